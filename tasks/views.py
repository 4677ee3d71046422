"""Plan-row pages. PLACEHOLDERS: being written now (issue 3); every view answers 404 until then."""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("尚未实现")


plan_detail = plan_approve = task_create = task_detail = task_edit = task_row = task_inline = _todo
task_progress = task_complete = task_remove = task_history = _todo
