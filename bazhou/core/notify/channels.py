"""The channels a delivery goes through, each exactly as its vendor documents the request (docs/notifications.md).

- **E-mail**: Django's e-mail (``settings.EMAIL_BACKEND``), one text mail to one address.
- **SMS** through an HTTP gateway (``BAZHOU_SMS_URL``), by ``BAZHOU_SMS_KIND``:

  - ``"aliyun"``: 阿里云短信服务 ``SendSms`` (API 版本 2017-05-25, RPC style, 签名机制 HMAC-SHA1 "SignatureVersion
    1.0"): the common and the request parameters, percent-encoded and sorted by name into the canonicalized query
    string; StringToSign = ``"POST&%2F&" + percentEncode(canonicalized)``; Signature = base64(HMAC-SHA1(key =
    AccessKeySecret + "&", StringToSign)); POSTed form-encoded; success when the answer's ``Code`` is ``"OK"``.
  - ``"json"``: a generic gateway: POST ``{"phone": ..., "content": ...}`` as JSON with
    ``Authorization: Bearer <BAZHOU_SMS_KEY_SECRET>``; any 2xx answer is success.

- **企业微信群机器人** (``BAZHOU_WECOM_WEBHOOK``): POST ``{"msgtype": "text", "text": {"content": ...,
  "mentioned_mobile_list": [...]}}``; success when ``errcode`` is 0.
- **钉钉自定义机器人** (``BAZHOU_DINGTALK_WEBHOOK``, 加签 secret ``BAZHOU_DINGTALK_SECRET``): POST ``{"msgtype": "text",
  "text": {"content": ...}, "at": {"atMobiles": [...], "isAtAll": false}}`` to the webhook +
  ``&timestamp=<ms>&sign=<urlEncode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)))>``; success
  when ``errcode`` is 0.

Every HTTP request goes through :func:`post` (``urllib.request``, ``BAZHOU_NOTIFY_TIMEOUT`` seconds). A channel that
fails raises :class:`SendError` with a message that names no phone number and no credential.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from django.conf import settings
from django.core.mail import EmailMessage

EMAIL = "email"
SMS = "sms"
WECOM = "wecom"
DINGTALK = "dingtalk"

# 企业微信: a text message's content is at most 2048 bytes (UTF-8); 钉钉 allows more, the same limit keeps both short.
ROBOT_MAX_BYTES = 2000

_MOBILE = re.compile(r"(?<![0-9])(1[0-9]{2})[0-9]{4}([0-9]{4})(?![0-9])")


class SendError(Exception):
    """A channel could not deliver: the message says why, with phone numbers masked."""


def mask_phones(text: str) -> str:
    """``text`` with every mainland mobile number shown as "138****1234"."""
    return _MOBILE.sub(r"\1****\2", text or "")


def enabled() -> list[str]:
    """The channels this deployment configures: e-mail always (Django's mail), the others when their address is set."""
    channels = [EMAIL]
    if getattr(settings, "BAZHOU_SMS_URL", ""):
        channels.append(SMS)
    if getattr(settings, "BAZHOU_WECOM_WEBHOOK", ""):
        channels.append(WECOM)
    if getattr(settings, "BAZHOU_DINGTALK_WEBHOOK", ""):
        channels.append(DINGTALK)
    return channels


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` to ``url``; the status and the answer. Errors (refused, timed out, HTTP 4xx/5xx) raise
    :class:`SendError` naming the failure but not the address (a webhook's address holds its key)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    timeout = getattr(settings, "BAZHOU_NOTIFY_TIMEOUT", 10)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured https/http)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        raise SendError(f"HTTP {error.code}") from None
    except urllib.error.URLError as error:
        raise SendError(f"连接失败：{error.reason}") from None
    except TimeoutError:
        raise SendError(f"超时（{timeout} 秒无应答）") from None
    except OSError as error:
        raise SendError(f"连接失败：{error}") from None


def _json_answer(raw: bytes) -> dict:
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SendError(f"应答不是 JSON：{raw[:100]!r}") from None
    if not isinstance(answer, dict):
        raise SendError("应答不是 JSON 对象")
    return answer


def _json_body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


# ---------------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------------


def send_email(*, address: str, subject: str, body: str, connection=None) -> None:
    try:
        EmailMessage(subject=subject, body=body, to=[address], connection=connection).send(fail_silently=False)
    except Exception as error:  # SMTP errors, refused connections, a broken backend: all retried the same way
        raise SendError(f"邮件发送失败：{type(error).__name__}: {error}") from None


# ---------------------------------------------------------------------------------------------
# SMS
# ---------------------------------------------------------------------------------------------


def percent_encode(value: str) -> str:
    """阿里云 RPC percentEncode: UTF-8, RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~) kept, everything
    else %XX in upper case; a space is %20, "*" is %2A, "~" stays."""
    return urllib.parse.quote(str(value), safe="-_.~")


def aliyun_string_to_sign(params: dict[str, str], method: str = "POST") -> str:
    canonicalized = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    return f"{method}&{percent_encode('/')}&{percent_encode(canonicalized)}"


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    digest = hmac.new(f"{secret}&".encode(), aliyun_string_to_sign(params, method).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def aliyun_params(*, phone: str, template_param: dict, now: datetime.datetime | None = None, nonce: str = "") -> dict:
    """The parameters of one SendSms call, before the signature."""
    now = now or datetime.datetime.now(datetime.UTC)
    return {
        "AccessKeyId": settings.BAZHOU_SMS_KEY_ID,
        "Action": "SendSms",
        "Format": "JSON",
        "PhoneNumbers": phone,
        "RegionId": "cn-hangzhou",
        "SignName": settings.BAZHOU_SMS_SIGN_NAME,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "TemplateCode": settings.BAZHOU_SMS_TEMPLATE,
        "TemplateParam": json.dumps(template_param, ensure_ascii=False, separators=(",", ":")),
        "Timestamp": now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
    }


def send_sms(*, phone: str, content: str, template_param: dict) -> None:
    """One SMS to ``phone``: ``content`` (the text a generic gateway sends) or, for 阿里云, the registered template
    (``BAZHOU_SMS_TEMPLATE``) filled with ``template_param``."""
    url = settings.BAZHOU_SMS_URL
    kind = getattr(settings, "BAZHOU_SMS_KIND", "aliyun")
    if kind == "json":
        headers = dict(JSON_HEADERS)
        headers["Authorization"] = f"Bearer {settings.BAZHOU_SMS_KEY_SECRET}"
        post(url, _json_body({"phone": phone, "content": content}), headers)
        return
    if kind != "aliyun":
        raise SendError(f"未知的短信网关类型 BAZHOU_SMS_KIND={kind!r}（应为 aliyun 或 json）")
    params = aliyun_params(phone=phone, template_param=template_param)
    params["Signature"] = aliyun_signature(params, settings.BAZHOU_SMS_KEY_SECRET)
    body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items()).encode("ascii")
    _, raw = post(url, body, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    answer = _json_answer(raw)
    if answer.get("Code") != "OK":
        raise SendError(mask_phones(f"阿里云短信返回 {answer.get('Code')}：{answer.get('Message', '')}"))


# ---------------------------------------------------------------------------------------------
# Group robots
# ---------------------------------------------------------------------------------------------


def _robot_result(raw: bytes, vendor: str) -> None:
    answer = _json_answer(raw)
    if answer.get("errcode") != 0:
        raise SendError(mask_phones(f"{vendor}返回 errcode {answer.get('errcode')}：{answer.get('errmsg', '')}"))


def send_wecom(*, content: str, mobiles: list[str]) -> None:
    payload = {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": list(mobiles)}}
    _, raw = post(settings.BAZHOU_WECOM_WEBHOOK, _json_body(payload), dict(JSON_HEADERS))
    _robot_result(raw, "企业微信")


def dingtalk_sign(timestamp: int, secret: str) -> str:
    """钉钉加签: urlEncode(base64(HmacSHA256(key=secret, msg=timestamp + "\\n" + secret)))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def dingtalk_url(webhook: str, secret: str, timestamp: int | None = None) -> str:
    if not secret:
        return webhook
    timestamp = timestamp if timestamp is not None else int(time.time() * 1000)
    joiner = "&" if "?" in webhook else "?"
    return f"{webhook}{joiner}timestamp={timestamp}&sign={dingtalk_sign(timestamp, secret)}"


def send_dingtalk(*, content: str, mobiles: list[str]) -> None:
    # A mention shows only when the content names the number after an "@".
    mentions = " ".join(f"@{m}" for m in mobiles)
    text = f"{content}\n{mentions}" if mentions else content
    payload = {"msgtype": "text", "text": {"content": text}, "at": {"atMobiles": list(mobiles), "isAtAll": False}}
    url = dingtalk_url(settings.BAZHOU_DINGTALK_WEBHOOK, getattr(settings, "BAZHOU_DINGTALK_SECRET", ""))
    _, raw = post(url, _json_body(payload), dict(JSON_HEADERS))
    _robot_result(raw, "钉钉")


def fit_bytes(text: str, limit: int = ROBOT_MAX_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary, with "…" when cut)."""
    if len(text.encode("utf-8")) <= limit:
        return text
    cut = text.encode("utf-8")[: limit - 3].decode("utf-8", errors="ignore")
    return cut + "…"
