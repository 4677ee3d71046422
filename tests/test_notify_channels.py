"""The channels against a real HTTP server on 127.0.0.1 started by the test: the exact requests (bodies, headers,
signatures recomputed here independently of the product's code), the delivery log, retries with backoff, giving up,
phone numbers masked in logs and the admin, and a failing channel that never stops the others."""

import base64
import datetime
import hashlib
import hmac
import io
import json
import logging
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from bazhou.core.models import Delivery, Notification
from bazhou.core.notify import Message, Person, delivery, notify_people
from tests import factories

DAY = datetime.date(2017, 9, 15)
PHONE = "13800001234"
MASKED = "138****1234"


class Gateway:
    """An HTTP server in a thread that records every request and answers what the test tells it, per path."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: dict[str, tuple[int, bytes, float]] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                gateway.requests.append(
                    {"path": path, "query": query, "headers": dict(self.headers.items()), "body": body}
                )
                status, answer, delay = gateway.answers.get(path, (200, b'{"errcode":0,"errmsg":"ok"}', 0))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def answer(self, path: str, status: int = 200, body: dict | None = None, delay: float = 0):
        self.answers[path] = (status, json.dumps(body or {}).encode(), delay)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    server = Gateway()
    server.answer("/sms", body={"Code": "OK", "Message": "OK", "RequestId": "R1", "BizId": "B1"})
    yield server
    server.close()


def configure(settings, gateway, *, sms="aliyun", wecom=True, dingtalk=True):
    settings.BAZHOU_SMS_KIND = sms
    settings.BAZHOU_SMS_URL = f"{gateway.url}/sms" if sms else ""
    settings.BAZHOU_SMS_KEY_ID = "testid"
    settings.BAZHOU_SMS_KEY_SECRET = "testsecret"
    settings.BAZHOU_SMS_SIGN_NAME = "巴州区扶贫"
    settings.BAZHOU_SMS_TEMPLATE = "SMS_1234567"
    settings.BAZHOU_WECOM_WEBHOOK = f"{gateway.url}/wecom?key=abc-123" if wecom else ""
    settings.BAZHOU_DINGTALK_WEBHOOK = f"{gateway.url}/dingtalk?access_token=tok" if dingtalk else ""
    settings.BAZHOU_DINGTALK_SECRET = "SECabc" if dingtalk else ""
    settings.BAZHOU_NOTIFY_TIMEOUT = 0.5
    settings.BAZHOU_NOTIFY_BACKOFF_SECONDS = 60
    settings.BAZHOU_NOTIFY_MAX_ATTEMPTS = 3
    settings.BAZHOU_SITE_URL = "https://fupin.example.cn"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def told(area):
    """吴玉峰 (phone and e-mail) has two overdue rows; 秦和平 (phone only) one; both in 巴州区."""
    plan = factories.plan(area.village_a)
    road = factories.task(plan, item="通村硬化路")
    water = factories.task(plan, item="安全饮用水")
    house = factories.task(plan, item="危房改造")
    wu = Person(name="吴玉峰", phone=f"+86 {PHONE}", email="wu@bazhou.gov.cn")
    qin = Person(name="秦和平", phone="13900005678")

    def message(task):
        return Message(
            reason="task_overdue",
            target=("tasks.task", task.pk),
            title=f"白庙乡 茅垭村 {task.item}",
            body="完成时限：2017年8月31日（已逾期15天）；当前：未启动 0%",
            url=f"/tasks/{task.pk}/",
        )

    created = notify_people(
        [(wu, message(road)), (wu, message(water)), (qin, message(house))], day=DAY, district=area.district
    )
    assert created == 3
    return road, water, house


# ---------------------------------------------------------------------------------------------
# Independent recomputation of the vendors' signatures (from their documentation, not the product's code)
# ---------------------------------------------------------------------------------------------


def aliyun_encode(value: str) -> str:
    # Alibaba Cloud's documented Java: URLEncoder.encode(v, "UTF-8").replace("+", "%20").replace("*", "%2A")
    # .replace("%7E", "~").
    return urllib.parse.quote_plus(value, safe="*").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_expected_signature(params: dict[str, str], secret: str) -> str:
    query = "&".join(f"{aliyun_encode(k)}={aliyun_encode(params[k])}" for k in sorted(params))
    string_to_sign = "POST&" + aliyun_encode("/") + "&" + aliyun_encode(query)
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def dingtalk_expected_sign(timestamp: str, secret: str) -> str:
    # DingTalk's documented Python: quote_plus(base64(hmac_sha256(secret, f"{timestamp}\n{secret}"))).
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), digestmod=hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(mac.digest()))


# ---------------------------------------------------------------------------------------------
# Each channel's exact request
# ---------------------------------------------------------------------------------------------


def test_aliyun_sendsms_is_a_signed_form_post_exactly_as_documented(gateway, settings, told):
    configure(settings, gateway, wecom=False, dingtalk=False)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    result = delivery.deliver(day=DAY)
    assert result.sent["sms"] == 2

    wu = next(r for r in gateway.at("/sms") if f"PhoneNumbers={PHONE}" in r["body"].decode())
    assert wu["headers"]["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    raw = wu["body"].decode("ascii")  # everything percent-encoded
    params = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
    signature = params.pop("Signature")
    assert {k: v for k, v in params.items() if k not in ("SignatureNonce", "Timestamp")} == {
        "AccessKeyId": "testid",
        "Action": "SendSms",
        "Format": "JSON",
        "PhoneNumbers": PHONE,
        "RegionId": "cn-hangzhou",
        "SignName": "巴州区扶贫",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_1234567",
        "TemplateParam": '{"name":"吴玉峰","count":"2","items":"白庙乡 茅垭村 通村硬化路；白庙乡 茅垭村 安全饮用水"}',
        "Version": "2017-05-25",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", params["SignatureNonce"])
    stamp = datetime.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    assert before <= stamp <= datetime.datetime.now(datetime.UTC)
    assert signature == aliyun_expected_signature(params, "testsecret")
    # Every value went out percent-encoded (a space as %20, never "+"), the signature too.
    assert "SignName=%E5%B7%B4%E5%B7%9E%E5%8C%BA%E6%89%B6%E8%B4%AB" in raw
    assert f"Signature={aliyun_encode(signature)}" in raw and " " not in raw
    nonces = {dict(urllib.parse.parse_qsl(r["body"].decode()))["SignatureNonce"] for r in gateway.at("/sms")}
    assert len(nonces) == 2  # a fresh nonce per request

    sms = Delivery.objects.get(channel="sms", address=PHONE)
    assert (sms.status, sms.attempts, sms.last_error, sms.recipient_key) == ("sent", 1, "", f"phone:{PHONE}")
    assert sms.sent_at is not None and sms.notifications.count() == 2


def test_an_aliyun_answer_other_than_ok_is_a_failure_with_its_code(gateway, settings, told):
    configure(settings, gateway, wecom=False, dingtalk=False)
    gateway.answer("/sms", body={"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": f"触发天级流控 {PHONE}"})
    now = timezone.now()
    delivery.deliver(day=DAY, now=now)
    sms = Delivery.objects.get(channel="sms", address=PHONE)
    assert sms.status == "retrying" and sms.attempts == 1
    assert sms.last_error == f"阿里云短信返回 isv.BUSINESS_LIMIT_CONTROL：触发天级流控 {MASKED}"


def test_the_json_gateway_posts_phone_and_content_with_a_bearer_key(gateway, settings, told):
    configure(settings, gateway, sms="json", wecom=False, dingtalk=False)
    gateway.answer("/sms", body={"ok": True})
    delivery.deliver(day=DAY)
    (qin,) = [r for r in gateway.at("/sms") if b"13900005678" in r["body"]]
    assert qin["headers"]["Authorization"] == "Bearer testsecret"
    assert qin["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(qin["body"]) == {
        "phone": "13900005678",
        "content": "秦和平您好：您有1条新消息（任务逾期1项）：白庙乡 茅垭村 危房改造。详见https://fupin.example.cn/inbox/",
    }
    (wu,) = [r for r in gateway.at("/sms") if PHONE.encode() in r["body"]]
    assert json.loads(wu["body"])["content"] == (
        "吴玉峰您好：您有2条新消息（任务逾期2项）：白庙乡 茅垭村 通村硬化路；白庙乡 茅垭村 安全饮用水。"
        "详见https://fupin.example.cn/inbox/"
    )


def test_the_wecom_robot_gets_one_text_message_for_the_district_with_mobiles_mentioned(gateway, settings, told):
    configure(settings, gateway, sms="", dingtalk=False)
    delivery.deliver(day=DAY)
    (request,) = gateway.requests
    assert (request["path"], request["query"]) == ("/wecom", "key=abc-123")
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request["body"]) == {
        "msgtype": "text",
        "text": {
            "content": "【巴州区督查提醒】2017年9月15日，新增需办理事项3项：\n"
            "1. [任务逾期] 白庙乡 茅垭村 通村硬化路（吴玉峰）\n"
            "2. [任务逾期] 白庙乡 茅垭村 安全饮用水（吴玉峰）\n"
            "3. [任务逾期] 白庙乡 茅垭村 危房改造（秦和平）\n"
            "请登录系统查看：https://fupin.example.cn/inbox/",
            "mentioned_mobile_list": [PHONE, "13900005678"],
        },
    }
    robot = Delivery.objects.get(channel="wecom")
    assert (robot.status, robot.recipient_key, robot.notifications.count()) == ("sent", "robot:511902", 3)


def test_the_dingtalk_robot_is_signed_with_hmac_sha256_and_mentions_by_mobile(gateway, settings, told):
    configure(settings, gateway, sms="", wecom=False)
    before = int(time.time() * 1000)
    delivery.deliver(day=DAY)
    (request,) = gateway.requests
    assert request["path"] == "/dingtalk"
    query = dict(pair.split("=", 1) for pair in request["query"].split("&"))
    assert query["access_token"] == "tok"
    assert before <= int(query["timestamp"]) <= int(time.time() * 1000)
    assert query["sign"] == dingtalk_expected_sign(query["timestamp"], "SECabc")  # as sent, URL-encoded
    body = json.loads(request["body"])
    assert body["msgtype"] == "text"
    assert body["at"] == {"atMobiles": [PHONE, "13900005678"], "isAtAll": False}
    assert body["text"]["content"].startswith("【巴州区督查提醒】2017年9月15日，新增需办理事项3项：\n1. [任务逾期]")
    assert body["text"]["content"].endswith(f"\n@{PHONE} @13900005678")  # a mention shows when the text names it


def test_a_robot_answering_an_errcode_is_a_failure(gateway, settings, told):
    configure(settings, gateway, sms="", dingtalk=False)
    gateway.answer("/wecom", body={"errcode": 93000, "errmsg": "invalid webhook url"})
    delivery.deliver(day=DAY)
    robot = Delivery.objects.get(channel="wecom")
    assert (robot.status, robot.last_error) == ("retrying", "企业微信返回 errcode 93000：invalid webhook url")


def test_email_is_one_mail_per_address_listing_all_of_the_day(gateway, settings, told):
    configure(settings, gateway, sms="", wecom=False, dingtalk=False)
    delivery.deliver(day=DAY)
    (mailed,) = mail.outbox
    assert mailed.to == ["wu@bazhou.gov.cn"]
    assert mailed.subject == "【逾期提醒】您负责的2项施工图任务已超过时限"
    assert "1. 白庙乡 茅垭村 通村硬化路\n   完成时限：2017年8月31日（已逾期15天）；当前：未启动 0%" in mailed.body
    assert "查看：https://fupin.example.cn/tasks/" in mailed.body


# ---------------------------------------------------------------------------------------------
# Failures, retries, giving up, masking
# ---------------------------------------------------------------------------------------------


def test_a_gateway_answering_500_is_retried_with_backoff_logged_masked_and_the_others_still_deliver(
    gateway, settings, told, caplog
):
    configure(settings, gateway)
    gateway.answer("/sms", status=500)
    now = timezone.now()
    with caplog.at_level(logging.WARNING, logger="bazhou.notify"):
        result = delivery.deliver(day=DAY, now=now)
    assert (result.sent["email"], result.sent["wecom"], result.sent["dingtalk"], result.sent["sms"]) == (1, 1, 1, 0)
    assert result.failed == 2 and len(mail.outbox) == 1
    sms = Delivery.objects.get(channel="sms", address=PHONE)
    assert (sms.status, sms.attempts, sms.last_error) == ("retrying", 1, "HTTP 500")
    assert sms.next_attempt_at == now + datetime.timedelta(seconds=60)
    log = caplog.text
    assert MASKED in log and PHONE not in log and "HTTP 500" in log

    # Not due before its time; at its time the second failure waits twice as long.
    assert delivery.send(now=now + datetime.timedelta(seconds=59)).failed == 0
    later = now + datetime.timedelta(seconds=60)
    delivery.send(now=later)
    sms.refresh_from_db()
    assert (sms.status, sms.attempts, sms.next_attempt_at) == ("retrying", 2, later + datetime.timedelta(seconds=120))

    # The gateway is back: the third attempt goes through; nothing else is sent twice.
    gateway.answer("/sms", body={"Code": "OK", "Message": "OK"})
    delivery.send(now=later + datetime.timedelta(seconds=120))
    sms.refresh_from_db()
    assert (sms.status, sms.attempts, sms.last_error) == ("sent", 3, "HTTP 500")
    assert len(gateway.at("/wecom")) == len(gateway.at("/dingtalk")) == 1 and len(mail.outbox) == 1


def test_a_gateway_that_times_out_is_retried_and_given_up_after_the_maximum(gateway, settings, told, caplog):
    configure(settings, gateway, wecom=False)
    gateway.answer("/sms", delay=1.0)  # the timeout is 0.5 s
    now = timezone.now()
    started = time.monotonic()
    result = delivery.deliver(day=DAY, now=now)
    assert time.monotonic() - started < 3  # two SMS, each cut off after 0.5 s
    assert result.sent["dingtalk"] == 1 and result.failed == 2
    sms = Delivery.objects.get(channel="sms", address=PHONE)
    assert sms.status == "retrying" and "超时" in sms.last_error

    gateway.answer("/sms", status=503)
    for _ in (2, 3):
        now += datetime.timedelta(hours=1)
        result = delivery.send(now=now)
    sms.refresh_from_db()
    assert (sms.status, sms.attempts, sms.last_error, sms.next_attempt_at) == ("failed", 3, "HTTP 503", None)
    assert result.given_up == 2
    assert "已尝试 3 次，放弃：138****1234" in caplog.text and PHONE not in caplog.text
    assert delivery.send(now=now + datetime.timedelta(days=1)).failed == 0  # given up: never tried again


def test_deliver_notifications_retries_what_is_due_and_fails_when_one_is_given_up(gateway, settings, told):
    configure(settings, gateway, wecom=False, dingtalk=False)
    settings.BAZHOU_TODAY = DAY.isoformat()
    settings.BAZHOU_NOTIFY_MAX_ATTEMPTS = 2
    settings.BAZHOU_NOTIFY_BACKOFF_SECONDS = 0
    gateway.answer("/sms", status=500)
    out = io.StringIO()
    call_command("deliver_notifications", stdout=out)  # plans today's, sends: first failures
    assert "短信 0 条，邮件 1 封" in out.getvalue() and "失败 2 条（其中放弃 0 条）" in out.getvalue()
    with pytest.raises(CommandError, match="有 2 条消息已达最多尝试次数仍发送失败，已放弃"):
        call_command("deliver_notifications", stdout=io.StringIO())
    assert set(Delivery.objects.filter(channel="sms").values_list("status", "attempts")) == {("failed", 2)}
    assert Delivery.objects.count() == 3  # planned once


def test_planning_twice_creates_nothing_new(gateway, settings, told):
    configure(settings, gateway)
    first = delivery.plan(day=DAY)
    assert sorted(Delivery.objects.values_list("channel", flat=True)) == [
        "dingtalk",
        "email",
        "sms",
        "sms",
        "wecom",
    ]
    assert len(first) == 5
    assert delivery.plan(day=DAY) == []


def test_planning_takes_the_same_queries_for_ten_times_the_notifications(
    gateway, settings, area, django_assert_num_queries
):
    configure(settings, gateway)
    plan = factories.plan(area.village_a)

    def notify(n, offset):
        pairs = []
        for i in range(offset, offset + n):
            task = factories.task(plan, item=f"路{i}")
            person = Person(name=f"人{i}", phone=f"1380000{i:04d}", email=f"p{i}@bazhou.gov.cn")
            pairs.append((person, Message("task_overdue", ("tasks.task", task.pk), f"路{i}")))
        notify_people(pairs, day=DAY, district=area.district)

    notify(1, 0)
    with django_assert_num_queries(8) as small:  # savepoint, 4 channels, 2 INSERTs, release
        delivery.plan(day=DAY)
    notify(10, 1)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(delivery.plan(day=DAY)) == 10 + 10 + 2


def test_the_admin_shows_the_delivery_log_with_phone_numbers_masked(gateway, settings, told, client):
    configure(settings, gateway)
    gateway.answer("/sms", status=500)
    delivery.deliver(day=DAY)
    root = factories.user("", None, username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    page = client.get("/admin/bazhou/delivery/").content.decode()
    assert MASKED in page and PHONE not in page and "HTTP 500" in page
    sms = Delivery.objects.get(channel="sms", address=PHONE)
    page = client.get(f"/admin/bazhou/delivery/{sms.pk}/change/").content.decode()
    assert MASKED in page and PHONE not in page
    robot = Delivery.objects.get(channel="wecom")
    page = client.get(f"/admin/bazhou/delivery/{robot.pk}/change/").content.decode()
    assert MASKED in page and PHONE not in page and "abc-123" not in page  # nor the webhook's key
    page = client.get("/admin/bazhou/notification/").content.decode()
    assert MASKED in page and PHONE not in page
    wu = Notification.objects.filter(phone=PHONE).first()
    page = client.get(f"/admin/bazhou/notification/{wu.pk}/change/").content.decode()
    assert MASKED in page and PHONE not in page
    assert client.post(f"/admin/bazhou/delivery/{sms.pk}/change/", {}).status_code == 403  # read only


def test_a_robot_message_for_many_items_stays_within_the_vendors_limit(gateway, settings, area):
    configure(settings, gateway, sms="", dingtalk=False)
    plan = factories.plan(area.village_a)
    pairs = []
    for i in range(30):
        task = factories.task(plan, item=f"产业路{i}")
        title = f"白庙乡 茅垭村 第{i}组产业路硬化及配套排水沟、错车道、安全防护栏建设"
        pairs.append(
            (Person(name=f"人{i}", phone=f"1380000{i:04d}"), Message("task_overdue", ("tasks.task", task.pk), title))
        )
    notify_people(pairs, day=DAY, district=area.district)
    delivery.deliver(day=DAY)
    (request,) = gateway.at("/wecom")
    text = json.loads(request["body"])["text"]
    assert len(text["content"].encode("utf-8")) <= 2048
    lines = text["content"].split("\n")
    assert lines[0] == "【巴州区督查提醒】2017年9月15日，新增需办理事项30项："
    assert lines[-2:] == ["……等共30项。", "请登录系统查看：https://fupin.example.cn/inbox/"]
    listed = len(lines) - 3
    assert 5 <= listed <= 20 and lines[listed].startswith(f"{listed}. [任务逾期] 白庙乡 茅垭村 第{listed - 1}组")
    assert text["mentioned_mobile_list"] == [f"1380000{i:04d}" for i in range(listed)]  # those listed
