"""The data version of the people's messages and charges (``people``, bazhou/core/freshness.py): its row, and on
PostgreSQL its sequence, as 0003 made the others'."""

from django.db import migrations

ROW = 6  # its position in freshness.KINDS


def create(apps, schema_editor):
    DataVersion = apps.get_model("bazhou", "DataVersion")
    DataVersion.objects.using(schema_editor.connection.alias).get_or_create(pk=ROW)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS bazhou_data_version_people")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS bazhou_data_version_people")


class Migration(migrations.Migration):
    dependencies = [("bazhou", "0011_goal_sources")]

    operations = [migrations.RunPython(create, drop)]
