"""PLACEHOLDERS: being written now (issue 4); every view answers 404 until then."""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("尚未实现")


review_queue = inspection_list = inspection_create = inspection_detail = _todo
finding_list = finding_create = finding_detail = bulletin_list = bulletin_create = bulletin_detail = _todo
