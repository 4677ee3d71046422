"""Storing uploaded files: a storage that cannot write (a read-only or full media folder, a lost network share)
is a clear Chinese message, not a 500, and leaves nothing half saved.

``with storing_files() as stored:`` around the code that saves the rows of uploaded files, appending each saved
``FieldFile`` to ``stored``. An ``OSError`` inside (``PermissionError``, ``FileNotFoundError``, no space left …) is
logged, the files already written by the block are deleted, and a ``ValidationError`` with STORAGE_FAILED is raised:
the service's transaction rolls back, so no row points at a missing file, and the form shows the message.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

STORAGE_FAILED = "服务器暂时无法保存上传的文件，请稍后重试或联系管理员。"


@contextmanager
def storing_files():
    stored: list = []
    try:
        yield stored
    except OSError:
        logger.exception("Uploaded files could not be stored; %d written before the failure are removed", len(stored))
        for field_file in stored:
            try:
                field_file.storage.delete(field_file.name)
            except OSError:
                logger.exception("An uploaded file could not be removed after the failure: %s", field_file.name)
        raise ValidationError(STORAGE_FAILED, code="storage_failed") from None
