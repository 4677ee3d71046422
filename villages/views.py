"""PLACEHOLDERS: being written now (issue 3)."""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("尚未实现")


village_list = village_detail = _todo
