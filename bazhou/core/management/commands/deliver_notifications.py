"""manage.py deliver_notifications: send what is due in the delivery log, meant for cron every 10 minutes.

It plans the deliveries of today's notifications that no configured channel has carried yet (those created
since the daily run: an escalation, an accountability case, a lead) and sends every delivery that is due:
new ones, and the retries whose backoff time has come (``BAZHOU_NOTIFY_BACKOFF_SECONDS × 2^(n-1)``), until
``BAZHOU_NOTIFY_MAX_ATTEMPTS`` failed attempts give one up. See bazhou.core.notify.delivery and
docs/notifications.md. A failure is logged (phone numbers masked) and never stops the others; the exit status is
0 unless a delivery was given up in this run.
"""

from django.core.management.base import BaseCommand, CommandError

from bazhou.core import clock
from bazhou.core.notify import delivery


class Command(BaseCommand):
    help = (
        "发送到期的消息：今天新生成、尚未发送的消息按已配置的渠道（短信、邮件、企业微信、钉钉）发出，"
        "并按退避时间重试此前发送失败的记录。供 cron 每 10 分钟运行一次。"
    )

    def handle(self, *args, **options):
        result = delivery.deliver_due(day=clock.today())
        self.stdout.write(f"本次发送：{result.summary()}。")
        if result.given_up:
            raise CommandError(
                f"有 {result.given_up} 条消息已达最多尝试次数仍发送失败，已放弃（详见日志和后台的发送记录）。"
            )
