"""Link the plan rows to their sector departments: for each district, the free-text units that read like a
district department's name (villages.departments.looks_like_department) become Department records, and the rows
that name one point to it. Other units (township governments, village committees, banks, companies) keep their
text and no department. Reversing unlinks the rows (the departments stay)."""

from collections import defaultdict

from django.db import migrations

from villages.departments import looks_like_department, normalise


def link(apps, schema_editor):
    District = apps.get_model("villages", "District")
    Department = apps.get_model("villages", "Department")
    Task = apps.get_model("tasks", "Task")
    for district in District.objects.all():
        rows = Task.objects.filter(plan__village__township__district=district, department__isnull=True)
        units = rows.exclude(responsible_unit="").values_list("responsible_unit", flat=True).distinct()
        by_name = defaultdict(list)
        for unit in units:
            if looks_like_department(unit, district.name):
                by_name[normalise(unit, district.name)].append(unit)
        for name, texts in sorted(by_name.items()):
            department, _ = Department.objects.get_or_create(district=district, name=name)
            rows.filter(responsible_unit__in=texts).update(department=department)


def unlink(apps, schema_editor):
    apps.get_model("tasks", "Task").objects.update(department=None)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0008_task_department"),
        ("villages", "0003_departments"),
    ]

    operations = [migrations.RunPython(link, unlink)]
