"""manage.py take_snapshot [--month YYYY-MM] [--district CODE] [--correct --reason 原因]: take a month's snapshot.

Without ``--month``: this month. Without ``--district``: every district. A month that has its snapshot is refused
(exit status 1, nothing written) unless ``--correct`` with ``--reason``: a correction, recorded as made by the
district office (the scheduled run has no person; a correction from the command is signed by ``--user``, a
district admin's username, which is required with ``--correct``). See docs/snapshots.md.
"""

import datetime

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from bazhou.core import clock
from bazhou.core.models import User
from supervision import snapshots
from supervision.models import MonthlySnapshot
from villages.models import District


class Command(BaseCommand):
    help = (
        "生成月度快照：冻结区县、各乡镇、各村本月（或指定月份）的数字。已有快照的月份只能用 --correct 更正并写明原因。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", help="月份，格式 YYYY-MM，如 2017-09。默认本月。")
        parser.add_argument("--district", help="只处理这个区县（6 位区划代码）。默认全部区县。")
        parser.add_argument("--correct", action="store_true", help="更正已有的快照（须写 --reason 和 --user）。")
        parser.add_argument("--reason", default="", help="更正原因。")
        parser.add_argument("--user", help="更正人的用户名（区级管理员）。")

    def handle(self, *args, month=None, district=None, correct=False, reason="", user=None, **options):
        try:
            snapshots.snapshot_day()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        today = clock.today()
        chosen = parse_month(month) if month else snapshots.month_of(today)
        person = None
        if correct:
            if not (reason or "").strip():
                raise CommandError(snapshots.REASON_NEEDED + "（--reason）")
            if not user:
                raise CommandError("更正快照须用 --user 写明更正人（区级管理员的用户名）。")
            person = User.objects.filter(username=user).first()
            if person is None:
                raise CommandError(f"找不到用户“{user}”。")
        districts = list(District.objects.order_by("code"))
        if district is not None:
            districts = [d for d in districts if d.code == district.strip()]
            if not districts:
                raise CommandError(f"找不到区划代码为“{district}”的区县。")
        kind = MonthlySnapshot.Kind.ON_DEMAND if correct else MonthlySnapshot.Kind.SCHEDULED
        refused = []
        for each in districts:
            try:
                rows = snapshots.take(each, chosen, user=person, kind=kind, reason=reason, correct=correct, today=today)
            except snapshots.SnapshotRefused as error:
                refused.append(f"{each.name}：{error.message}")
                continue
            what = "更正快照" if correct else "月度快照"
            self.stdout.write(f"{each.name}：已生成{snapshots.month_label(chosen)}的{what}（{len(rows)} 个区域）。")
        if refused:
            raise CommandError("\n".join(refused))


def parse_month(text: str) -> datetime.date:
    try:
        month = datetime.date.fromisoformat(text.strip() + "-01")
    except ValueError:
        month = None
    if month is None or len(text.strip()) != 7 or not 2000 <= month.year <= 2100:
        raise CommandError(f"--month 应为 YYYY-MM 格式的月份（2000–2100 年），如 2017-09；收到“{text}”。")
    return month
