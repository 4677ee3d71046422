"""Photos kept across a progress form that came back with an error (暂存的佐证材料).

On a weak signal a photo takes a minute to send; a typo in the money must not make the person choose and send it
again. So when the progress form comes back (a field error, a refusal of the service, a conflict), the files that
were acceptable in themselves are kept on the server as :class:`tasks.models.StagedUpload` rows of their owner and
the form lists them ("已保留照片：现场.jpg") with a ticked checkbox named :data:`FIELD` carrying their ids; sending the
form again attaches them. A file that was not acceptable in itself (not a photo or PDF, too big) is not kept, and
the form says so beside its input with "请重新选择照片".

- :func:`check` splits the newly chosen files into acceptable ones and messages (the rule is
  ``tasks.services.validate_evidence_files``, asked one file at a time so each message sits beside its input);
- :func:`claim` reads the ids sent back: at most :data:`MAX_IDS` values, each a bounded id (``id_param``), and only
  the user's own staged rows count; anything else (a forged id, another person's, one already cleaned away) gives
  one clear message instead of an error page;
- :func:`opened` hands the claimed rows to ``tasks.services.progress_record`` as uploaded files (checked again
  there like any upload);
- :func:`keep` stages acceptable files after a failed submission, at most ``MAX_EVIDENCE_FILES`` in all;
- :func:`discard` deletes staged rows (after the report is saved) and their files once the transaction commits;
- :func:`clean` deletes what is older than :data:`KEEP_HOURS` (``manage.py clean_staged_uploads``; each :func:`keep`
  also cleans the owner's own old ones).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from bazhou.core.pages import id_param
from bazhou.core.uploads import STORAGE_FAILED
from tasks.models import StagedUpload
from tasks.services import MAX_EVIDENCE_FILES, validate_evidence_files

# The form field carrying the ids of the kept files.
logger = logging.getLogger(__name__)

FIELD = "staged"
# How many ids a form may send back: the most files a report takes.
MAX_IDS = MAX_EVIDENCE_FILES
# Staged files older than this are deleted.
KEEP_HOURS = 24

CHOOSE_AGAIN = "这个文件没有保留，请重新选择照片。"
GONE = "之前保留的照片已失效（超过一天，或不是您上传的），请重新选择照片。"
TOO_MANY = f"文件“{{name}}”没有保留：一次最多 {MAX_EVIDENCE_FILES} 个文件。如需要，请重新选择照片。"


@dataclass
class Claimed:
    """The user's own staged rows named by the form, and a message when some of what it sent was not usable."""

    uploads: list[StagedUpload] = field(default_factory=list)
    error: str | None = None


def check(files: Iterable) -> tuple[list, list[str]]:
    """The acceptable files of ``files`` (one input's) and a message for each one that is not."""
    accepted, problems = [], []
    for upload in files:
        if not upload:
            continue
        try:
            validate_evidence_files([upload])
        except ValidationError as error:
            problems.extend(error.messages)
        else:
            accepted.append(upload)
    return accepted, problems


def claim(user, values: list[str]) -> Claimed:
    """The staged rows of ``user`` named by ``values`` (the form's :data:`FIELD` values), in the order sent."""
    values = [v for v in values if v != ""]
    if not values:
        return Claimed()
    ids = [id_param(v) for v in values[: MAX_IDS + 1]]
    usable = [i for i in ids if i is not None]
    bad = len(values) > MAX_IDS or len(usable) != len(ids)
    found = StagedUpload.objects.filter(user=user, pk__in=usable).in_bulk() if usable else {}
    uploads = []
    for pk in dict.fromkeys(usable):
        staged = found.get(pk)
        if staged is None or not staged.file.storage.exists(staged.file.name):
            bad = True
            continue
        uploads.append(staged)
    return Claimed(uploads, GONE if bad else None)


@contextlib.contextmanager
def opened(staged: list[StagedUpload]) -> Iterator[list[UploadedFile]]:
    """The staged rows as uploaded files (their original names and types), closed afterwards."""
    files = []
    try:
        for row in staged:
            handle = row.file.storage.open(row.file.name, "rb")
            files.append(UploadedFile(handle, name=row.original_name, content_type=row.content_type, size=row.size))
        yield files
    finally:
        for upload in files:
            upload.close()


def keep(user, uploads: Iterable, *, already: int = 0) -> tuple[list[StagedUpload], list[str]]:
    """Stage acceptable ``uploads`` (from :func:`check`) of ``user``, as many as fit beside ``already`` kept ones;
    a message for each one that did not fit. Also deletes the user's own staged files older than a day."""
    clean(user=user)
    kept, problems = [], []
    for upload in uploads:
        name = os.path.basename(upload.name or "")[:255]
        if already + len(kept) >= MAX_EVIDENCE_FILES:
            problems.append(TOO_MANY.format(name=name))
            continue
        upload.seek(0)
        content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
        size = upload.size
        upload.name = f"{uuid.uuid4().hex}{os.path.splitext(name)[1].lower()}"
        try:
            with transaction.atomic():  # a savepoint: the failed save must not spoil the request's transaction
                staged = StagedUpload.objects.create(
                    user=user, file=upload, original_name=name, content_type=content_type[:100], size=size
                )
        except OSError:  # the media folder cannot be written (bazhou/core/uploads.py): said, not a 500
            logger.exception("An upload could not be staged")
            problems.append(f"文件“{name}”没有保留：{STORAGE_FAILED}")
            continue
        kept.append(staged)
    return kept, problems


def discard(staged: Iterable[StagedUpload]) -> None:
    """Delete staged rows now and their files when the transaction commits."""
    staged = list(staged)
    if not staged:
        return
    names = [(row.file.storage, row.file.name) for row in staged]
    StagedUpload.objects.filter(pk__in=[row.pk for row in staged]).delete()

    def remove_files():
        for storage, name in names:
            with contextlib.suppress(OSError):
                storage.delete(name)

    transaction.on_commit(remove_files)


def clean(*, now: datetime.datetime | None = None, user=None) -> int:
    """Delete the staged files older than :data:`KEEP_HOURS` (of ``user`` only, when given); how many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(hours=KEEP_HOURS)
    old = StagedUpload.objects.filter(created_at__lt=cutoff)
    if user is not None:
        old = old.filter(user=user)
    rows = list(old)
    discard(rows)
    return len(rows)
