"""manage.py seed_demo: the demo district of 巴州区, 2017, with a login for every role (the supervision
chain's included: a 挂包 leader of a 片区, two departments, 茅垭村's information officer, the 人大 and the 纪委),
each with a phone number."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bazhou.core import clock, summaries
from bazhou.core.models import Role
from bazhou.surfaces.demo import data
from bazhou.surfaces.demo.builder import DemoBuilder, demo_exists

ROLE_LABELS = dict(Role.choices)


def analyze() -> None:
    """Fresh statistics, so the query planner knows the tables are no longer empty. On PostgreSQL only the project's
    tables: a database-wide ANALYZE also analyses the cluster's shared catalogs (pg_authid …), whose lock, held
    until the transaction ends, makes another database's ANALYZE wait (two test workers seeding at once)."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("ANALYZE")
            return
        tables = sorted(set(connection.introspection.django_table_names(only_existing=True, include_views=False)))
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))


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
            analyze()
            # Written in bulk: the summary figures the dashboard adds up are built whole once, here, rather than by
            # the first person to open the dashboard (bazhou/core/summaries.py).
            day = clock.today()
            for name in summaries.KEEPERS:
                summaries.rebuild(name, day, force=True)
            self.stdout.write(f"已建立汇总数（{day}）。")
        self.print_logins()

    def print_logins(self):
        self.stdout.write("")
        self.stdout.write(f"演示账号（密码均为 {data.DEMO_PASSWORD}）：")
        for user in data.DEMO_USERS:
            self.stdout.write(
                f"  {user.username:<10} {ROLE_LABELS[user.role]:<10} {where(user):<16} {user.name} {user.phone}"
            )
        self.stdout.write(f"演示数据的“今天”是 {data.DEMO_TODAY}（BAZHOU_TODAY）。")


def where(user: data.DemoUser) -> str:
    """The area a demo login works in, as the list shows it: 巴州区, 白庙乡, 白庙乡 茅垭村, a department, a 片区."""
    if user.department:
        return user.department
    if user.charge:
        return "挂包 " + "、".join(" ".join(a for a in pair if a) for pair in user.charge)
    return "巴州区" if user.area == "district" else " ".join(a for a in user.area if a)
