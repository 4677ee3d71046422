"""manage.py link_departments: link the plan rows without a department to the sector department (行业部门) their
responsible unit names, after departments or their other spellings (aliases) were added in the admin.

The rule is ``tasks.services.link_departments`` (``villages.departments.match``); this applies it in bulk to the rows
still without a department (``tasks.services.link_unlinked_departments``), each linked row getting a history entry.
Rows already linked are left alone. ``--dry-run`` only counts. Prints a summary in Chinese: rows linked per
department and the units that still name no department (most frequent first).
"""

from django.core.management.base import BaseCommand, CommandError

from tasks.services import link_unlinked_departments
from villages.models import District

SHOWN_UNMATCHED = 20


class Command(BaseCommand):
    help = "按责任单位把尚未关联行业部门的施工图任务关联到部门（在后台新增部门或“其他写法”之后运行）。"

    def add_arguments(self, parser):
        parser.add_argument("--district", help="只处理这个区县（6 位区划代码，如 511902）。默认全部区县。")
        parser.add_argument("--dry-run", action="store_true", help="只统计将关联多少行，不修改数据。")

    def handle(self, *args, district=None, dry_run=False, **options):
        chosen = None
        if district is not None:
            chosen = District.objects.filter(code=district.strip()).first()
            if chosen is None:
                known = "、".join(f"{d.code} {d.name}" for d in District.objects.order_by("code")) or "（无）"
                raise CommandError(f"找不到区划代码为“{district}”的区县。现有区县：{known}。")
        result = link_unlinked_departments(district=chosen, dry_run=dry_run)
        verb = "将关联" if dry_run else "已关联"
        head = "（试运行，未修改数据）" if dry_run else ""
        self.stdout.write(f"{head}{verb}任务 {result.total} 行到 {len(result.linked)} 个行业部门。")
        for department, count in sorted(result.linked.items(), key=lambda item: (-item[1], item[0].name)):
            self.stdout.write(f"  {department.name}：{count} 行")
        if result.unmatched:
            rows = sum(result.unmatched.values())
            self.stdout.write(f"仍有 {rows} 行的责任单位（{len(result.unmatched)} 种写法）未识别为行业部门，保留原文：")
            ranked = sorted(result.unmatched.items(), key=lambda item: (-item[1], item[0]))
            for unit, count in ranked[:SHOWN_UNMATCHED]:
                self.stdout.write(f"  {unit}：{count} 行")
            if len(ranked) > SHOWN_UNMATCHED:
                self.stdout.write(f"  ……另有 {len(ranked) - SHOWN_UNMATCHED} 种写法未列出。")
            self.stdout.write("如其中有行业部门，请在后台“行业部门”中新增该部门或为其添加“其他写法”，再运行本命令。")
        else:
            self.stdout.write("没有未识别的责任单位。")
