"""Findings keep their target's area (``area_district`` / ``area_township`` / ``area_village``): added empty, filled
from each finding's target, then required (``supervision.models.refresh_finding_areas`` does the same at run time)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

PATHS = {
    "task": ("task__plan__village__township__district", "task__plan__village__township", "task__plan__village"),
    "village": ("village__township__district", "village__township", "village"),
    "household": ("household__village__township__district", "household__village__township", "household__village"),
    "township": ("township__district", "township", None),
}


def fill(apps, schema_editor):
    Finding = apps.get_model("supervision", "Finding")
    for name, paths in PATHS.items():
        values = {}
        for column, path in zip(("area_district", "area_township", "area_village"), paths, strict=True):
            values[column] = (
                None
                if path is None
                else Subquery(Finding._base_manager.filter(pk=OuterRef("pk")).values(path)[:1])
            )
        Finding._base_manager.filter(**{f"{name}__isnull": False}).update(**values)


def field(to, *, null, verbose_name):
    return models.ForeignKey(
        editable=False,
        null=null,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to=to,
        verbose_name=verbose_name,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0006_monthly_snapshots"),
        ("villages", "0005_exitfigures"),
        ("households", "0008_township_figures"),
        ("tasks", "0014_township_figures"),
    ]

    operations = [
        migrations.AddField("finding", "area_district", field("villages.district", null=True, verbose_name="所在区")),
        migrations.AddField(
            "finding", "area_township", field("villages.township", null=True, verbose_name="所在乡镇")
        ),
        migrations.AddField("finding", "area_village", field("villages.village", null=True, verbose_name="所在村")),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            "finding", "area_district", field("villages.district", null=False, verbose_name="所在区")
        ),
        migrations.AlterField(
            "finding", "area_township", field("villages.township", null=False, verbose_name="所在乡镇")
        ),
    ]
