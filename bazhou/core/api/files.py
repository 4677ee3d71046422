"""Evidence files (佐证材料) in the API: how a write takes them, how a row lists them, and their download through
the row's scope.

A write that takes files accepts multipart/form-data (``files``, repeated) as well as JSON (no files); the
services check and store them (``tasks.services.validate_evidence_files`` / ``store_evidence``).

A progress report's and a rectification's files read alike (name, type, size, when, download URL) and download
alike: ``GET …/{id}/evidence/{evidence_id}/`` fetches the row through the viewset's scope first (outside the
area: 404), then the file among that row's own files (another row's: 404), and a file missing on disk is a 404.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser

from bazhou.core.api.parsers import JSONParser
from bazhou.core.api.schema import download
from bazhou.core.downloads import evidence_response

# The parsers of a viewset whose writes may carry evidence files.
WITH_FILES = [JSONParser, MultiPartParser, FormParser]


def evidence_files(help_text: str) -> serializers.ListField:
    """The uploaded evidence files of a write (none when left out)."""
    return serializers.ListField(child=serializers.FileField(), required=False, default=list, help_text=help_text)


# An evidence file with its download URL: ``url_name`` (``api:<basename>-evidence``) of the row named by the file's
# ``row_id`` attribute. Subclasses name the model in ``Meta``. (A comment, not a docstring: drf-spectacular would
# show a docstring as the description of each subclass's component in the schema.)
class EvidenceSerializer(serializers.ModelSerializer):
    url_name: str
    row_id: str
    url = serializers.SerializerMethodField(help_text="下载地址（同样经过访问范围检查）")

    class Meta:
        fields = ["id", "original_name", "content_type", "size", "uploaded_at", "url"]
        read_only_fields = fields

    def get_url(self, evidence) -> str:
        path = reverse(self.url_name, args=[getattr(evidence, self.row_id), evidence.pk])
        return self.context["request"].build_absolute_uri(path)


def evidence_download(summary: str):
    """The viewset's ``evidence`` action: ``GET …/{id}/evidence/{evidence_id}/``, documented with ``summary``."""

    def decorate(method):
        method = action(
            detail=True,
            methods=["get"],
            url_path=r"evidence/(?P<evidence_id>[0-9]+)",
            url_name="evidence",
            filter_backends=[],
        )(method)
        return download(summary)(method)

    return decorate


def file_response(files, pk) -> FileResponse:
    """The file ``pk`` among ``files`` (the row's own evidence) as a download; 404 if not there or not on disk."""
    evidence = get_object_or_404(files, pk=pk)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    return evidence_response(handle, evidence)
