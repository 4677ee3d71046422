"""Move the data version on, after the data was changed outside Django (psql, pg_restore), and have the summary
figures the writes keep rebuilt by the next reader (bazhou/core/summaries.py): no signal saw those changes."""

from django.core.management.base import BaseCommand

from bazhou.core import freshness, summaries


class Command(BaseCommand):
    help = "数据在系统之外被修改（psql、pg_restore 等）后运行：更新数据版本，使驾驶舱等统计重新计算。"

    def handle(self, *args, **options):
        freshness.bump()
        summaries.invalidate()
        versions = "，".join(f"{kind} {number}" for kind, number in freshness.current().items())
        self.stdout.write(f"数据版本已更新：{versions}。汇总数将在下次读取时按明细重建。")
