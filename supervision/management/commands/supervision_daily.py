"""manage.py supervision_daily: the daily supervision run, meant for cron once a day.

For each district (or ``--district CODE``), on today (``bazhou.core.clock.today()``: Asia/Shanghai, or
``BAZHOU_TODAY``) or ``--date YYYY-MM-DD``: records newly overdue plan rows and rectifications, runs the
supervision chain (escalations, referrals to the 纪委), notifies the people responsible, their departments
and the area staff (in-app), sends the supervisors and the 挂包 leaders their daily digest, and delivers the
new notifications through the configured channels (SMS, e-mail, group robots). Safe to run again the same
day: the second run records, creates and sends nothing. See ``supervision.notifications`` and
docs/notifications.md. It also forgets the one-time form keys older than two days (``bazhou.core.submissions``)
and the progress photos kept for forms that were never sent again (``tasks.staging``). On the day of the month
``BAZHOU_SNAPSHOT_DAY`` it takes each district's monthly snapshot once (``supervision.snapshots.take_scheduled``).

Exit status 1 (CommandError) on bad arguments, before anything is changed, and, after every district has
been run, when a delivery failed (``deliver_notifications`` retries it with backoff).
"""

import datetime
import time

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bazhou.core import clock, jobs, submissions, summaries
from supervision import snapshots
from supervision.notifications import run_daily
from tasks import staging
from villages.models import District


class Command(BaseCommand):
    help = (
        "每日督查：记录新逾期的施工图任务和整改，提请挂包领导协调、移送纪委，生成消息并通过短信、邮件和群机器人"
        "提醒责任人，向督查人员和挂包领导发送每日督查摘要。供 cron 每天运行一次；同一天重复运行不会重复记录或重复发送。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="按哪一天运行，格式 YYYY-MM-DD。默认今天（Asia/Shanghai，或 BAZHOU_TODAY）。"
        )
        parser.add_argument("--district", help="只处理这个区县（6 位区划代码，如 511902）。默认全部区县。")

    def handle(self, *args, date=None, district=None, **options):
        today = parse_day(date) if date is not None else clock.today()
        districts = list(District.objects.order_by("code"))
        if district is not None:
            districts = [d for d in districts if d.code == district.strip()]
            if not districts:
                known = "、".join(f"{d.code} {d.name}" for d in District.objects.order_by("code")) or "（无）"
                raise CommandError(f"找不到区划代码为“{district}”的区县。现有区县：{known}。")
        if not districts:
            self.stdout.write("系统中还没有区县，无事可做。")
            return

        try:
            snapshots.snapshot_day()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None

        # The summary figures the dashboard adds up count overdue and due-soon rows as of a day: built for the new
        # day here, early, rather than by the first person to open the dashboard (bazhou/core/summaries.py).
        started = time.perf_counter()
        summaries.ready(list(summaries.KEEPERS), today)
        self.stdout.write(f"汇总数已按 {today} 准备好（用时 {time.perf_counter() - started:.1f} 秒）。")

        failed = 0
        for each in districts:
            result = run_daily(district=each, today=today)
            failed += result.failed
            self.stdout.write(result.summary())
            # On the configured day of the month: every area's monthly snapshot, once (docs/snapshots.md).
            if taken := snapshots.take_scheduled(each, today):
                self.stdout.write(
                    f"{each.name}：已生成{snapshots.month_label(taken[0].month)}的月度快照（{len(taken)} 个区域）。"
                )
        forgotten = submissions.forget_old()
        if forgotten:
            self.stdout.write(f"清理两天前的表单提交记录 {forgotten} 条。")
        with transaction.atomic():
            unclaimed = staging.clean()
        if unclaimed:
            self.stdout.write(f"删除过期的暂存照片 {unclaimed} 个（进度填报出错时保留、未再提交）。")
        expired, ended = jobs.purge_expired(), jobs.forget_old()
        if expired or ended:
            self.stdout.write(f"删除过了保留期的后台任务文件 {expired} 个、30 天前结束的后台任务记录 {ended} 条。")
        if failed:
            raise CommandError(
                f"有 {failed} 条消息发送失败（详见日志和后台的发送记录）；"
                "失败的发送由 deliver_notifications 按退避时间重试，未发出的督查摘要邮件在下次运行时重发。"
            )


def parse_day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"--date 应为 YYYY-MM-DD 格式的有效日期，如 2017-09-15；收到“{text}”。") from None
