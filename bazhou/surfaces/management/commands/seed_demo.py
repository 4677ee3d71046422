"""manage.py seed_demo: the demo district of 巴州区, 2017, with a login for every role."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bazhou.core.models import Role
from bazhou.surfaces.demo import data
from bazhou.surfaces.demo.builder import DemoBuilder, demo_exists

ROLE_LABELS = dict(Role.choices)


class Command(BaseCommand):
    help = "建立巴州区2017年演示数据（确定性、可重复运行），并列出各角色的演示账号。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=int,
            default=1,
            help="规模倍数：10 表示村、户、任务均为演示区的 10 倍（用于性能测试）。默认 1。",
        )

    def handle(self, *args, scale: int, **options):
        if scale < 1 or scale > 100:
            raise CommandError("规模倍数应为 1–100 之间的整数。")
        if demo_exists():
            self.stdout.write("演示数据已存在，未做任何更改。（如需重建，请使用一个新的空数据库。）")
        else:
            self.stdout.write(f"正在建立巴州区演示数据（规模 {scale} 倍）……")
            counts = DemoBuilder(scale=scale, log=self.stdout.write).build()
            for label, n in sorted(counts.items()):
                self.stdout.write(f"  {label}: {n}")
            self.stdout.write(self.style.SUCCESS(f"共创建 {sum(counts.values())} 条记录。"))
            # Fresh statistics, so the query planner knows the tables are no longer empty.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.print_logins()

    def print_logins(self):
        self.stdout.write("")
        self.stdout.write(f"演示账号（密码均为 {data.DEMO_PASSWORD}）：")
        for username, name, role, area, _superuser in data.DEMO_USERS:
            where = "巴州区" if area == "district" else " ".join(a for a in area if a)
            self.stdout.write(f"  {username:<8} {ROLE_LABELS[role]:<10} {where:<12} {name}")
        self.stdout.write(f"演示数据的“今天”是 {data.DEMO_TODAY}（BAZHOU_TODAY）。")
