"""我的消息: the in-app inbox lists my notifications (unread first, 50 a page), opening one records the read time (the
read receipt) and goes to its page on this site only, 全部标为已读 marks them all; nobody sees another's; the page
takes the same queries for ten times the messages."""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bazhou.core.models import Notification
from bazhou.core.notify import Message, Person, notify_people, notify_users, unread_count

pytestmark = pytest.mark.usefixtures("pinned_today")

DAY = datetime.date(2017, 9, 15)


def tell(user, n=1, reason="task_overdue", start=0, url="/tasks/{i}/"):
    pairs = [
        (
            Person(name=str(user), user_id=user.pk),
            Message(reason, ("tasks.task", i), f"第{i}项 逾期", body="完成时限：2017年8月31日", url=url.format(i=i)),
        )
        for i in range(start, start + n)
    ]
    return notify_people(pairs, day=DAY, district=None)


def listed(response) -> list[str]:
    return [n.title for n in response.context["page_obj"]]


def test_the_inbox_lists_my_messages_unread_first_then_newest(client, personas):
    cadre = personas.village_cadre
    tell(cadre, 3)
    tell(personas.township_a, 1, start=9)  # someone else's
    Notification.objects.filter(user=cadre, target_id=2).update(read_at=timezone.now())
    client.force_login(cadre)
    response = client.get(reverse("inbox"))
    assert response.status_code == 200
    assert listed(response) == ["第1项 逾期", "第0项 逾期", "第2项 逾期"]
    page = response.content.decode()
    assert "我的消息" in page and "未读 2" in page and "全部标为已读" in page and "第9项" not in page
    assert 'name="viewport"' in page  # the phone layout of every page


def test_opening_a_message_records_when_it_was_read_and_goes_to_its_page(client, personas):
    cadre = personas.village_cadre
    tell(cadre, 1)
    notification = Notification.objects.get(user=cadre)
    client.force_login(cadre)
    before = timezone.now()
    response = client.get(reverse("inbox_open", args=[notification.pk]))
    assert response.status_code == 302 and response["Location"] == "/tasks/0/"
    notification.refresh_from_db()
    first = notification.read_at
    assert first is not None and before <= first <= timezone.now()
    assert unread_count(cadre) == 0

    client.get(reverse("inbox_open", args=[notification.pk]))  # opened again: the first reading stays the evidence
    notification.refresh_from_db()
    assert notification.read_at == first
    assert f"已读于 {timezone.localtime(first):%Y-%m-%d %H:%M}" in client.get(reverse("inbox")).content.decode()


@pytest.mark.parametrize(
    "url", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_a_message_links_only_to_this_site(client, personas, url):
    cadre = personas.village_cadre
    tell(cadre, 1, url=url)
    notification = Notification.objects.get(user=cadre)
    client.force_login(cadre)
    response = client.get(reverse("inbox_open", args=[notification.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("inbox")
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_nobody_opens_anothers_message(client, personas):
    tell(personas.township_a, 1)
    theirs = Notification.objects.get()
    client.force_login(personas.village_cadre)
    assert client.get(reverse("inbox_open", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("inbox_read_all")).status_code == 302
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_all_marks_every_unread_message_and_is_safe_to_press_twice(client, personas):
    cadre = personas.village_cadre
    tell(cadre, 3)
    earlier = timezone.now() - datetime.timedelta(days=1)
    Notification.objects.filter(target_id=0).update(read_at=earlier)
    client.force_login(cadre)
    assert client.get(reverse("inbox_read_all")).status_code == 405  # a POST only
    response = client.post(reverse("inbox_read_all"), follow=True)
    assert "已将 2 条消息标为已读。" in response.content.decode()
    assert unread_count(cadre) == 0
    assert Notification.objects.get(target_id=0).read_at == earlier  # the first reading is kept
    response = client.post(reverse("inbox_read_all"), follow=True)
    assert "没有未读消息。" in response.content.decode()


def test_the_unread_count_for_the_navigation(personas):
    cadre = personas.village_cadre
    assert unread_count(cadre) == 0
    tell(cadre, 4)
    assert unread_count(cadre) == 4
    Notification.objects.filter(target_id=1).update(read_at=timezone.now())
    assert unread_count(cadre) == 3
    cadre.is_active = False
    assert unread_count(cadre) == 0
    assert unread_count(AnonymousUser()) == 0


def test_notify_users_is_idempotent_per_recipient_object_reason_and_day(personas):
    message = Message("escalation", ("supervision.finding", 7), "提请协调：茅垭村 通村硬化路")
    users = [personas.supervisor, personas.district_admin]
    assert notify_users(users, message, day=DAY) == 2
    assert notify_users(users, message, day=DAY) == 0
    assert notify_users(users, message, day=DAY + datetime.timedelta(days=1)) == 2


def test_the_inbox_is_paged_and_anonymous_visitors_sign_in_first(client, personas):
    cadre = personas.village_cadre
    tell(cadre, 55)
    client.force_login(cadre)
    first = client.get(reverse("inbox"))
    assert len(listed(first)) == 50 and "第 1 / 2 页，共 55 条" in first.content.decode()
    assert len(listed(client.get(reverse("inbox"), {"page": 2}))) == 5
    assert client.get(reverse("inbox"), {"page": "x"}).status_code == 200  # a bad page number: the first page
    client.logout()
    response = client.get(reverse("inbox"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_inbox_takes_the_same_queries_for_ten_times_the_messages(client, personas, django_assert_num_queries):
    cadre = personas.village_cadre
    tell(cadre, 4)
    Notification.objects.filter(target_id=1).update(read_at=timezone.now())
    client.force_login(cadre)
    with CaptureQueriesContext(connection) as small:
        assert len(listed(client.get(reverse("inbox")))) == 4
    tell(cadre, 36, start=4)
    Notification.objects.filter(target_id__in=range(10, 20)).update(read_at=timezone.now())
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(reverse("inbox"))
    assert len(listed(response)) == 40
    # Of the messages themselves: the page's count, its rows, the unread count (and the navigation's, when it shows
    # one); the rest is the session, the user and the navigation.
    assert len([q for q in small.captured_queries if '"bazhou_notification"' in q["sql"]]) <= 4
