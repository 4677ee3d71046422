"""我的消息 (``/inbox/``): the signed-in user's notifications, unread first; opening one records when it was read (the
read receipt, evidence for accountability) and takes the reader to what it is about. See docs/notifications.md."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from bazhou.core.notify import inbox_of
from bazhou.core.pages import page_of, querystring_without_page


def safe_target(url: str) -> str | None:
    """``url`` if it is a path of this site ("/tasks/5/"), else None: never another host ("//x", "https://x",
    "/\\x"), never a script."""
    if url and url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=set()):
        return url
    return None


@login_required
@require_GET
def inbox(request):
    """The list: unread first, then newest first; 50 a page; a fixed number of queries whatever their number."""
    rows = inbox_of(request.user).order_by(
        ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField()).desc(), "-created_at", "-id"
    )
    page_obj = page_of(request, rows.only("pk", "title", "body", "reason", "day", "created_at", "read_at", "url"))
    unread = inbox_of(request.user).filter(read_at__isnull=True).count()
    return render(
        request,
        "inbox/list.html",
        {"page_obj": page_obj, "querystring": querystring_without_page(request), "unread": unread},
    )


@login_required
@require_GET
def inbox_open(request, pk: int):
    """Open one of my notifications: the first opening is recorded (``read_at``), then on to what it is about (a
    page of this site) or, when it links nowhere, back to the list."""
    notification = get_object_or_404(inbox_of(request.user), pk=pk)
    if notification.read_at is None:
        inbox_of(request.user).filter(pk=pk, read_at__isnull=True).update(read_at=timezone.now())
    return redirect(safe_target(notification.url) or reverse("inbox"))


@login_required
@require_POST
def inbox_read_all(request):
    """全部标为已读: every unread notification of mine is marked read now (a second press changes nothing)."""
    n = inbox_of(request.user).filter(read_at__isnull=True).update(read_at=timezone.now())
    messages.success(request, f"已将 {n} 条消息标为已读。" if n else "没有未读消息。")
    return redirect("inbox")
