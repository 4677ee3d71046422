# Duplicate projects (避免重复): each row's item name normalised (tasks.models.item_key), stored for the same-item
# question (tasks.models.same_item_q) and indexed with the plan and category.

import unicodedata

from django.db import migrations, models


def item_key(item):
    """tasks.models.item_key as of this migration (frozen here, as a migration must not follow later code)."""
    text = unicodedata.normalize("NFKC", item or "").casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("P", "Z", "C"))


def fill_item_keys(apps, schema_editor):
    Task = apps.get_model("tasks", "Task")
    batch = []
    for task in Task.objects.only("id", "item").iterator(chunk_size=2000):
        task.item_key = item_key(task.item)
        batch.append(task)
        if len(batch) >= 2000:
            Task.objects.bulk_update(batch, ["item_key"])
            batch = []
    if batch:
        Task.objects.bulk_update(batch, ["item_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0006_change_requests"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="item_key",
            field=models.CharField(default="", editable=False, max_length=200, verbose_name="项目（规范化）"),
        ),
        migrations.RunPython(fill_item_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["plan", "category", "item_key"], name="task_same_item_idx"),
        ),
    ]
