"""manage.py clean_staged_uploads: delete the photos kept for progress forms that came back with an error and were
never sent again (tasks.staging), once they are older than a day (``tasks.staging.KEEP_HOURS``).

Run it daily (the daily supervision run's timer is a good moment); each person's own old staged files are also
deleted whenever they stage new ones. Prints how many were deleted.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from tasks import staging


class Command(BaseCommand):
    help = f"删除超过 {staging.KEEP_HOURS} 小时、未再提交的暂存佐证材料（进度填报出错时保留的照片）。"

    def handle(self, *args, **options):
        with transaction.atomic():
            count = staging.clean()
        self.stdout.write(f"已删除 {count} 个过期的暂存文件。")
