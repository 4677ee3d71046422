"""Rebuild or verify the summary figures the writes keep (bazhou/core/summaries.py)."""

import time

from django.core.management.base import BaseCommand, CommandError

from bazhou.core import clock, summaries


class Command(BaseCommand):
    help = (
        "汇总数（各村施工图任务、资金、花名册脱贫条件等，由每次写入维护）：--verify 与明细逐项核对，"
        "--rebuild 全部重建（在 psql、pg_restore 等系统之外的修改之后运行）。"
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--verify", action="store_true", help="与明细逐项核对，有不一致时列出并以状态 1 退出")
        group.add_argument("--rebuild", action="store_true", help="全部重建")

    def handle(self, *args, verify=False, rebuild=False, **options):
        day = clock.today()
        if rebuild:
            for name in summaries.KEEPERS:
                started = time.perf_counter()
                summaries.rebuild(name, day, force=True)
                self.stdout.write(f"已重建 {name} 汇总数（{day}），用时 {time.perf_counter() - started:.1f} 秒。")
            return
        started = time.perf_counter()
        problems = summaries.verify(day)
        seconds = time.perf_counter() - started
        if problems:
            for line in problems[:200]:
                self.stdout.write(line)
            more = "（只列出前 200 处）" if len(problems) > 200 else ""
            raise CommandError(
                f"汇总数与明细不一致：{len(problems)} 处{more}。可运行 manage.py summaries --rebuild 重建。"
            )
        self.stdout.write(f"汇总数与明细一致（{day}，用时 {seconds:.1f} 秒）。")
