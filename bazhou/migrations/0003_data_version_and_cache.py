"""The data version's row, and on PostgreSQL its sequence (see bazhou/freshness.py)."""

from django.db import migrations

SEQUENCE = "bazhou_data_version"


def create(apps, schema_editor):
    apps.get_model("bazhou", "DataVersion").objects.using(schema_editor.connection.alias).get_or_create(pk=1)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [("bazhou", "0002_export_log_data_version")]

    operations = [migrations.RunPython(create, drop)]
