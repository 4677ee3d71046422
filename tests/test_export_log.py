"""The export log (导出记录): every bulletin file or print-out handed out is written down, with who, when, what
and from where; the admin shows the log read-only, to superusers only."""

import datetime

import pytest
from django.urls import reverse

from bazhou.core.models import ExportLog, User
from supervision import bulletin_services
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")


@pytest.fixture
def published(area, personas):
    """A published bulletin of 巴州区 listing two overdue rows (one with a household) and an open rectification."""
    plan = factories.plan(area.village_a)
    road = factories.task(plan, item="通村硬化路", responsible_person="吴玉峰")
    factories.task(plan, area.household_a, item="危房改造", category="housing", deadline=datetime.date(2017, 9, 1))
    factories.rectification(factories.finding(road), deadline=datetime.date(2017, 10, 20))
    bulletin = bulletin_services.bulletin_generate(
        user=personas.supervisor,
        today=datetime.date(2017, 9, 15),
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 30),
    )
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    return bulletin


@pytest.mark.parametrize(
    ("view", "fmt"), [("supervision:bulletin_xlsx", "xlsx"), ("supervision:bulletin_print", "print")]
)
def test_a_bulletin_download_or_print_out_is_written_in_the_export_log(client, personas, published, view, fmt):
    client.force_login(personas.leader)
    response = client.get(reverse(view, args=[published.pk]), REMOTE_ADDR="10.20.30.40")
    assert response.status_code == 200
    entry = ExportLog.objects.get()
    assert entry.user == personas.leader and entry.username == "lingdao"
    assert (entry.kind, entry.fmt, entry.via) == (ExportLog.Kind.BULLETIN, fmt, "page")
    assert entry.area == "巴州区 2017年第1期"
    assert entry.rows == 3  # two overdue rows and one open rectification
    assert entry.personal and not entry.unmasked  # names of responsible people and household heads, no ID numbers
    assert entry.remote_addr == "10.20.30.40"


def test_each_download_is_a_line_of_its_own(client, personas, published):
    client.force_login(personas.supervisor)
    for _ in range(2):
        client.get(reverse("supervision:bulletin_xlsx", args=[published.pk]))
    client.force_login(personas.township_a)
    client.get(reverse("supervision:bulletin_print", args=[published.pk]))
    assert list(ExportLog.objects.order_by("pk").values_list("username", "fmt")) == [
        ("ducha", "xlsx"),
        ("ducha", "xlsx"),
        ("baimiao", "print"),
    ]


def test_a_bulletin_the_user_may_not_see_is_a_404_and_logs_nothing(client, area, personas, published):
    other = factories.district(code="511921", name="通江县")
    outsider = factories.user("district_admin", other, username="tongjiang")
    client.force_login(outsider)
    for view in ("supervision:bulletin_xlsx", "supervision:bulletin_print"):
        assert client.get(reverse(view, args=[published.pk])).status_code == 404
    assert not ExportLog.objects.exists()


def test_the_admin_shows_the_log_to_superusers_read_only(client, personas, published):
    root = User.objects.create_superuser(username="root", password="pw-for-tests-2017")
    client.force_login(personas.supervisor)
    client.get(reverse("supervision:bulletin_xlsx", args=[published.pk]))
    entry = ExportLog.objects.get()

    client.force_login(root)
    changelist = client.get(reverse("admin:bazhou_exportlog_changelist"))
    assert changelist.status_code == 200 and "ducha" in changelist.content.decode()
    assert client.get(reverse("admin:bazhou_exportlog_add")).status_code == 403
    assert client.post(reverse("admin:bazhou_exportlog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    client.post(reverse("admin:bazhou_exportlog_change", args=[entry.pk]), {"username": "someone-else"})
    assert ExportLog.objects.get().username == "ducha"

    staff = personas.district_admin
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(reverse("admin:bazhou_exportlog_changelist")).status_code == 403
