"""Move the data version on, after the data was changed outside Django (psql, pg_restore)."""

from django.core.management.base import BaseCommand

from bazhou.core import freshness


class Command(BaseCommand):
    help = "数据在系统之外被修改（psql、pg_restore 等）后运行：更新数据版本，使驾驶舱等统计重新计算。"

    def handle(self, *args, **options):
        freshness.bump()
        versions = "，".join(f"{kind} {number}" for kind, number in freshness.current().items())
        self.stdout.write(f"数据版本已更新：{versions}。")
