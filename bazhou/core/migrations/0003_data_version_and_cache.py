"""The data versions' rows, and on PostgreSQL their sequences, one per kind of data (see bazhou/freshness.py)."""

from django.db import migrations

KINDS = ("villages", "households", "tasks", "supervision", "goals")


def create(apps, schema_editor):
    DataVersion = apps.get_model("bazhou", "DataVersion")
    for row, _kind in enumerate(KINDS, 1):
        DataVersion.objects.using(schema_editor.connection.alias).get_or_create(pk=row)
    if schema_editor.connection.vendor == "postgresql":
        for kind in KINDS:
            schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS bazhou_data_version_{kind}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for kind in KINDS:
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS bazhou_data_version_{kind}")


class Migration(migrations.Migration):
    dependencies = [("bazhou", "0002_export_log_data_version")]

    operations = [migrations.RunPython(create, drop)]
