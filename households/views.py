"""PLACEHOLDERS: being written now (issue 3)."""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("尚未实现")


household_list = household_detail = _todo
