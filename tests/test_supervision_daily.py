"""manage.py supervision_daily: overdue records, notifications to the responsible people (one mail per address),
the departments and the area staff, one digest per district and day (mail and in-app; a 挂包 leader's covers their
charge only), nothing twice when run again, and bad arguments refused in Chinese before anything changes."""

import datetime
import io
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import CommandError, call_command

from bazhou.core import freshness
from bazhou.core.models import Delivery, Notification, Role
from supervision import notifications
from supervision.models import DailyDigest, OverdueRecord
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)


def run(*args) -> str:
    out = io.StringIO()
    call_command("supervision_daily", *args, stdout=out)
    return out.getvalue()


def state():
    """What a refused run must leave as it was."""
    return (
        list(OverdueRecord.objects.order_by("pk").values()),
        list(DailyDigest.objects.order_by("pk").values()),
        list(Notification.objects.order_by("pk").values()),
        list(Delivery.objects.order_by("pk").values()),
        len(mail.outbox),
    )


def summary(tasks=0, rectifications=0, messages=0, mails=0, digest="已发送", failed=0):
    return (
        f"新增逾期任务 {tasks} 项，新增逾期整改 {rectifications} 项，提请挂包领导协调 0 项，移送纪委 0 件；"
        f"消息 {messages} 条，短信 0 条，邮件 {mails} 封，群机器人 0 条，失败 {failed} 条；督查摘要：{digest}。"
    )


def inbox(user):
    return sorted((n.reason, n.target_type, n.target_id) for n in Notification.objects.filter(user=user))


@pytest.fixture
def data(area, personas):
    """On 2017-09-15: 吴玉峰 has two overdue rows (his address written two ways), 秦和平 one, one overdue row has
    no address, one row is due on 9-20; 岳明 has an overdue rectification; another district has an overdue row."""
    personas.supervisor.email = "ducha@bazhou.gov.cn"
    personas.supervisor.save()
    personas.district_admin.email = "admin@bazhou.gov.cn"
    personas.district_admin.save()
    personas.township_a.email = "baimiao@bazhou.gov.cn"  # township staff get no digest
    personas.township_a.save()
    factories.user(Role.SUPERVISOR, area.district, username="no-mail")  # a supervisor without an address

    class Data:
        plan_a = factories.plan(area.village_a)
        road = factories.task(
            plan_a, item="通村硬化路", responsible_person="吴玉峰", responsible_email="wu@bazhou.gov.cn"
        )
        water = factories.task(
            plan_a,
            item="安全饮用水&管网",
            deadline=datetime.date(2017, 9, 1),
            responsible_person="吴玉峰",
            responsible_email="Wu@Bazhou.gov.cn",
        )
        house = factories.task(
            plan_a,
            area.household_a,
            item="危房改造",
            deadline=datetime.date(2017, 9, 10),
            responsible_person="秦和平",
            responsible_email="qin@bazhou.gov.cn",
        )
        no_address = factories.task(plan_a, item="村文化室", deadline=datetime.date(2017, 7, 31))
        due_soon = factories.task(
            plan_a, item="九月二十日的路", deadline=datetime.date(2017, 9, 20), responsible_email="wu@bazhou.gov.cn"
        )
        done = factories.done_task(plan_a, item="已完成", responsible_email="wu@bazhou.gov.cn")
        rect = factories.rectification(
            factories.finding(area.township_b, description="帮扶干部未按要求入户"),
            deadline=datetime.date(2017, 9, 10),
            responsible_person="岳明",
            responsible_email="yue@bazhou.gov.cn",
        )
        rect_open = factories.rectification(
            factories.finding(area.village_b),
            deadline=datetime.date(2017, 11, 1),
            responsible_email="yue@bazhou.gov.cn",
        )
        other_district = factories.district("511921", "恩阳区")
        other_task = factories.task(
            factories.plan(factories.village(factories.township(other_district, number=101, name="恩阳镇"))),
            item="恩阳区的路",
            responsible_email="enyang@example.cn",
        )

    return Data


def notices():
    return [m for m in mail.outbox if m.subject.startswith("【逾期提醒】")]


def digests():
    return [m for m in mail.outbox if m.subject.startswith("【督查摘要】")]


def test_the_first_run_records_the_newly_overdue_and_mails_each_address_once(data):
    output = run("--district", "511902")
    # 4 notifications to the responsible people, 4 + 4 in-app to 茅垭村's cadre and 白庙乡's staff, 1 to 寺岭乡's
    # staff (the rectification), 3 digests in the supervisors' and the admin's inboxes; 3 notices + the digest mail.
    assert "巴州区（511902）2017-09-15：" + summary(4, 1, messages=16, mails=4) in output

    records = OverdueRecord.objects.all()
    assert {(r.task_id, r.rectification_id, r.deadline, r.recorded_on) for r in records} == {
        (data.road.pk, None, datetime.date(2017, 8, 31), TODAY),
        (data.water.pk, None, datetime.date(2017, 9, 1), TODAY),
        (data.house.pk, None, datetime.date(2017, 9, 10), TODAY),
        (data.no_address.pk, None, datetime.date(2017, 7, 31), TODAY),
        (None, data.rect.pk, datetime.date(2017, 9, 10), TODAY),
    }
    by_address = {m.to[0].lower(): m for m in notices()}
    assert sorted(by_address) == ["qin@bazhou.gov.cn", "wu@bazhou.gov.cn", "yue@bazhou.gov.cn"]
    wu = by_address["wu@bazhou.gov.cn"]
    assert wu.subject == "【逾期提醒】您负责的2项施工图任务已超过时限"
    assert wu.body.startswith("吴玉峰：您好！")
    assert "白庙乡 茅垭村 通村硬化路" in wu.body and "白庙乡 茅垭村 安全饮用水" in wu.body
    assert "完成时限：2017年8月31日（已逾期15天）；当前：未启动 0%" in wu.body
    assert "安全饮用水&管网" in wu.body and "&amp;" not in wu.body  # text mail: nothing HTML-escaped
    assert "九月二十日的路" not in wu.body
    yue = by_address["yue@bazhou.gov.cn"]
    assert yue.subject == "【逾期提醒】您负责的1项整改已超过时限"
    assert (
        "寺岭乡 寺岭乡：限期完成整改" in yue.body and "整改时限：2017年9月10日（已逾期5天）；当前：待整改" in yue.body
    )

    notified = {(r.task_id, r.rectification_id): (r.notified_to, r.notified_at is not None) for r in records}
    assert notified[data.road.pk, None] == ("wu@bazhou.gov.cn", True)
    assert notified[data.water.pk, None] == ("Wu@Bazhou.gov.cn", True)  # the row's own address, mailed once
    assert notified[None, data.rect.pk] == ("yue@bazhou.gov.cn", True)
    assert notified[data.no_address.pk, None] == ("", False)
    assert not OverdueRecord.objects.filter(task=data.other_task).exists()  # another district


def test_the_area_staff_see_their_rows_in_their_inbox_and_the_responsible_person_has_no_account(data, personas):
    run("--district", "511902")
    tasks = [("task_overdue", "tasks.task", t.pk) for t in (data.road, data.water, data.house, data.no_address)]
    assert inbox(personas.village_cadre) == sorted(tasks)
    assert inbox(personas.township_a) == sorted(tasks)
    assert inbox(personas.township_b) == [("rect_overdue", "supervision.rectification", data.rect.pk)]
    district = [("digest", "villages.district", 511902)]
    assert inbox(personas.supervisor) == inbox(personas.district_admin) == district
    assert inbox(personas.leader) == []  # a district leader gets no notices
    # The in-app notices go to the inbox only: no phone, no address, so no SMS or mail of their own.
    assert not Notification.objects.filter(user=personas.village_cadre).exclude(phone="", email="").exists()
    wu = Notification.objects.get(recipient_key="email:wu@bazhou.gov.cn", target_id=data.road.pk)
    assert (wu.user_id, wu.name, wu.title) == (None, "吴玉峰", "白庙乡 茅垭村 通村硬化路")
    assert wu.url == f"/tasks/{data.road.pk}/"


def test_a_responsible_person_whose_phone_is_an_accounts_is_told_in_that_accounts_inbox(data, personas, area):
    cadre = personas.village_cadre
    cadre.phone = "138 0000 1234"
    cadre.save()
    factories.user(Role.VILLAGE_CADRE, area.village_b, username="inactive", phone="13800001234", is_active=False)
    Task.objects.filter(pk=data.house.pk).update(responsible_phone="+86 13800001234")
    department = factories.department(area.district)
    Task.objects.filter(pk=data.road.pk).update(department=department)
    transport = factories.department_user(department, username="jiaotong")
    run("--district", "511902")

    house = Notification.objects.get(target_id=data.house.pk, user=cadre)
    assert (house.recipient_key, house.name, house.phone, house.email) == (
        f"user:{cadre.pk}",
        "秦和平",
        "13800001234",
        "qin@bazhou.gov.cn",
    )  # one notification for the cadre: the responsible one (in-app, SMS, mail), not a second in-app copy
    assert Notification.objects.filter(target_id=data.house.pk, reason="task_overdue").count() == 2  # + 白庙乡's staff
    assert inbox(transport) == [("task_overdue", "tasks.task", data.road.pk)]  # the department's row only


def test_the_digest_goes_to_supervisors_and_district_admins_with_an_address(data):
    run()
    (digest,) = digests()
    assert digest.to == ["admin@bazhou.gov.cn", "ducha@bazhou.gov.cn"]
    assert digest.subject == "【督查摘要】巴州区2017年9月15日：逾期任务4项（今日新增4项），逾期整改1项"
    assert "逾期未完成：4项（今日新增4项）" in digest.body
    assert "7日内到期：1项" in digest.body
    assert "超过整改时限：1项（今日新增1项）" in digest.body
    assert "1. 白庙乡：4项" in digest.body
    saved = DailyDigest.objects.get(district_id="511902")
    assert (saved.day, saved.recipients) == (TODAY, "admin@bazhou.gov.cn\nducha@bazhou.gov.cn")
    assert saved.summary["top_townships"] == [{"name": "白庙乡", "overdue_tasks": 4}]
    assert saved.summary["due_soon_tasks"] == 1
    # The same digest in the inbox of every supervisor and admin, the one without an address too.
    in_app = Notification.objects.filter(reason="digest").order_by("user__username")
    assert [n.user.username for n in in_app] == ["admin", "ducha", "no-mail"]
    assert {(n.title, n.body, n.url, n.email, n.phone) for n in in_app} == {
        (digest.subject, digest.body, "/supervision/queue/", "", "")
    }


def test_a_patch_leaders_digest_covers_only_their_charge(data, area):
    """白庙乡's leader sees its four overdue rows and not 寺岭乡's; 寺岭乡's leader its row and rectification; 大寺村's
    leader the village's row but not the rectification, whose finding is against the township above the village."""
    baimiao = factories.patch_leader_user([area.township_a], username="guabao-a", email="a@bazhou.gov.cn")
    siling = factories.patch_leader_user([area.township_b], username="guabao-b")
    dasi = factories.patch_leader_user(charge_villages=[area.village_b], username="guabao-dasi")
    factories.patch_leader_user(username="no-charge")
    factories.task(factories.plan(area.village_b), item="大寺村的路", responsible_person="陈")
    run("--district", "511902")

    mine = Notification.objects.get(user=baimiao, reason="digest")
    assert mine.title == "【挂包片区督查摘要】巴州区2017年9月15日：逾期任务4项（今日新增4项），逾期整改0项"
    assert "挂包片区：白庙乡" in mine.body
    assert "1. 白庙乡：4项" in mine.body and "寺岭乡" not in mine.body and "大寺村" not in mine.body
    assert "白庙乡 茅垭村 通村硬化路（吴玉峰，时限2017年8月31日）" in mine.body
    assert mine.email == "a@bazhou.gov.cn"
    theirs = Notification.objects.get(user=siling, reason="digest")
    assert theirs.title == "【挂包片区督查摘要】巴州区2017年9月15日：逾期任务1项（今日新增1项），逾期整改1项"
    assert "大寺村 大寺村的路" in theirs.body and "茅垭村" not in theirs.body
    village_only = Notification.objects.get(user=dasi, reason="digest")
    assert village_only.title.endswith("逾期任务1项（今日新增1项），逾期整改0项")
    assert not Notification.objects.filter(user__username="no-charge").exists()
    # Mailed to the leader with an address (the digest is no SMS).
    (mailed,) = [m for m in mail.outbox if m.to == ["a@bazhou.gov.cn"]]
    assert mailed.subject == mine.title and "挂包片区：白庙乡" in mailed.body


def test_every_district_is_run_without_district(data):
    output = run()
    no_mail = "督查人员和区级管理员均无邮箱，未发邮件（已放进其站内消息）"
    assert "恩阳区（511921）2017-09-15：" + summary(1, messages=1, mails=1, digest=no_mail) in output
    assert no_mail in output
    assert OverdueRecord.objects.filter(task=data.other_task).exists()
    assert DailyDigest.objects.filter(district_id="511921").count() == 0


def test_a_second_run_the_same_day_records_and_sends_nothing(data):
    run()
    before = state()
    output = run()
    assert "2017-09-15：" + summary(digest="今日已发送，未重复发送") in output
    assert state() == before


def test_the_next_day_sends_only_the_digest(data):
    run()
    sent, recorded = len(mail.outbox), OverdueRecord.objects.count()
    output = run("--date", "2017-09-16", "--district", "511902")
    # The digest, mailed and in 3 inboxes; the row with nobody to tell is shown again to its cadre and township staff.
    assert summary(messages=5, mails=1) in output
    assert [m.subject for m in mail.outbox[sent:]] == [
        "【督查摘要】巴州区2017年9月16日：逾期任务4项（今日新增0项），逾期整改1项"
    ]
    assert OverdueRecord.objects.count() == recorded
    assert DailyDigest.objects.filter(district_id="511902").count() == 2


def test_a_new_deadline_that_passes_later_is_a_new_record_and_a_new_notice(data):
    run()
    Task.objects.filter(pk=data.road.pk).update(deadline=datetime.date(2017, 9, 20))
    run("--date", "2017-09-18")
    assert OverdueRecord.objects.filter(task=data.road).count() == 1
    sent = len(mail.outbox)

    output = run("--date", "2017-09-21")
    assert "新增逾期任务 2 项" in output  # the road again, and the row due 9-20
    records = OverdueRecord.objects.filter(task=data.road).order_by("deadline")
    assert [(r.deadline, r.recorded_on) for r in records] == [
        (datetime.date(2017, 8, 31), TODAY),
        (datetime.date(2017, 9, 20), datetime.date(2017, 9, 21)),
    ]
    (notice,) = [m for m in notices() if m in mail.outbox[sent:]]
    assert notice.to == ["wu@bazhou.gov.cn"]
    assert "通村硬化路" in notice.body and "九月二十日的路" in notice.body and "安全饮用水" not in notice.body


def test_a_task_done_before_the_run_is_not_recorded(data):
    Task.objects.filter(pk=data.house.pk).update(status="done", progress=100, completed_on=TODAY)
    run()
    assert not OverdueRecord.objects.filter(task=data.house).exists()
    assert "qin@bazhou.gov.cn" not in [m.to[0] for m in notices()]


class BrokenSMTP(EmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("连接被关闭")


def test_mail_that_could_not_be_sent_is_retried_and_the_digest_goes_out_with_the_next_run(data, settings):
    settings.EMAIL_BACKEND = "tests.test_supervision_daily.BrokenSMTP"
    settings.BAZHOU_NOTIFY_BACKOFF_SECONDS = 0  # retried as soon as deliver_notifications runs
    with pytest.raises(CommandError, match="有 4 条消息发送失败"):
        run("--district", "511902")
    assert OverdueRecord.objects.count() == 5  # recorded and notified all the same: the deliveries are retried
    assert OverdueRecord.objects.filter(notified_at__isnull=False).count() == 4
    assert not DailyDigest.objects.exists()
    assert mail.outbox == []
    failed = Delivery.objects.filter(channel="email")
    assert {(d.status, d.attempts) for d in failed} == {("retrying", 1)} and failed.count() == 3
    assert all("SMTPServerDisconnected" in d.last_error for d in failed)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    output = run("--district", "511902")
    assert summary(mails=1) in output  # the digest mail; the notices are the retries'
    assert len(notices()) == 0 and len(digests()) == 1
    out = io.StringIO()
    call_command("deliver_notifications", stdout=out)
    assert "邮件 3 封" in out.getvalue()
    assert len(notices()) == 3
    assert {(d.status, d.attempts) for d in Delivery.objects.filter(channel="email")} == {("sent", 2)}


def test_a_person_given_an_address_later_is_told_while_the_row_is_still_overdue(data):
    run()
    Task.objects.filter(pk=data.no_address.pk).update(responsible_email="wen@bazhou.gov.cn")
    sent = len(mail.outbox)
    run("--date", "2017-09-16")
    (notice,) = [m for m in mail.outbox[sent:] if m.subject.startswith("【逾期提醒】")]
    assert notice.to == ["wen@bazhou.gov.cn"] and "村文化室" in notice.body


def test_the_date_defaults_to_the_products_today(data, settings):
    settings.BAZHOU_TODAY = "2017-09-02"
    output = run("--district", "511902")
    assert "2017-09-02：新增逾期任务 3 项" in output  # 7-31, 8-31 and 9-01 were past on 9-02
    assert set(OverdueRecord.objects.values_list("recorded_on", flat=True)) == {datetime.date(2017, 9, 2)}


@pytest.mark.parametrize("bad", ["2017-13-01", "2017/09/15", "昨天", ""])
def test_a_bad_date_is_refused_in_chinese_and_changes_nothing(data, bad):
    before = state()
    with pytest.raises(CommandError) as refused:
        run("--date", bad)
    assert str(refused.value) == f"--date 应为 YYYY-MM-DD 格式的有效日期，如 2017-09-15；收到“{bad}”。"
    assert state() == before


def test_an_unknown_district_is_refused_in_chinese_and_changes_nothing(data):
    before = state()
    with pytest.raises(CommandError) as refused:
        run("--district", "511999")
    assert str(refused.value) == "找不到区划代码为“511999”的区县。现有区县：511902 巴州区、511921 恩阳区。"
    assert state() == before


def test_notifying_takes_the_same_queries_for_10_times_the_rows(area, personas, django_assert_num_queries):
    def rows(n):
        plan = factories.plan(area.village_a)
        for i in range(n):
            factories.task(plan, item=f"路{i}", responsible_person=f"人{i}", responsible_phone=f"1380000{i:04d}")
            factories.rectification(
                factories.finding(area.village_b),
                deadline=datetime.date(2017, 9, 1),
                responsible_phone=f"1390000{i:04d}",
            )
        notifications.record_overdue(district=area.district, today=TODAY)

    # (1 and 10: SQLite takes at most 999 values per INSERT, so far more rows would take a second INSERT.)
    # The data versions read before each block (as a page would have), so on both engines each block moves the people
    # kind's version on for its messages and the supervision kind's for the records marked (1 query each), whatever
    # the test's earlier writes bumped.
    rows(1)
    freshness.current()
    with django_assert_num_queries(10) as small:
        created = notifications.notify_responsible(district=area.district, today=TODAY)
    assert created == 2 + 2 + 1  # 2 people, the row to the cadre and 白庙乡's staff, the rectification to 寺岭乡's
    rows(10)
    freshness.current()
    with django_assert_num_queries(len(small.captured_queries)):
        created = notifications.notify_responsible(district=area.district, today=TODAY)
    assert created == 10 * 5
    assert not OverdueRecord.objects.filter(notified_at__isnull=True).exists()


def test_recording_reads_the_existing_records_once_whatever_their_number(data, django_assert_num_queries):
    """savepoint; the overdue rows; the overdue rectifications; the existing records; the insert; release."""
    with django_assert_num_queries(6):
        first = notifications.record_overdue(district=data.plan_a.village.township.district, today=TODAY)
    assert len(first) == 5
    with django_assert_num_queries(5):  # nothing new: no insert
        again = notifications.record_overdue(district=data.plan_a.village.township.district, today=TODAY)
    assert again == []
