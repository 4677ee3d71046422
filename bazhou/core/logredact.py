"""Logging for the product: one handler writing to standard output, and no ID number (身份证号) in any line.

Every log line, Django's and gunicorn's (the access log included), goes through ``RedactIdNumbers``: anything
shaped like an ID number (18 characters: 17 digits, then a digit or X) is replaced with ``[身份证号]`` in the
message, its arguments, the traceback and the stack. Pages never put an ID number in a URL (an ID-number
search is a POST), so this is the second line of defence: a typed-in address, a database error naming the
duplicate value, a debugging print.

``logging_config(level)`` is the one dictConfig, used by ``settings.LOGGING`` and by ``gunicorn.conf.py``.
This module imports nothing from Django, so gunicorn's master process can load it before the application.
"""

from __future__ import annotations

import logging
import re

# 17 digits and a check character, not part of a longer run of digits (a lowercase x is typed too).
ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
REDACTED = "[身份证号]"

_traceback_formatter = logging.Formatter()


def redact(text: str) -> str:
    """``text`` with every ID-number-shaped run replaced by ``[身份证号]``."""
    return ID_NUMBER.sub(REDACTED, text)


class RedactIdNumbers(logging.Filter):
    """A handler filter: formats the record's message once, redacted, and redacts its traceback and stack.

    The redacted text replaces ``msg`` (and ``args`` is emptied), so every handler and formatter after this
    one sees only the redacted line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as it always does
            return True
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _traceback_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def logging_config(level: str = "INFO") -> dict:
    """The dictConfig for Django and gunicorn: everything to standard output, through the redacting filter.

    Django's own loggers (``django``, ``django.server``) and gunicorn's (``gunicorn.error``,
    ``gunicorn.access``) get the same handler instead of their defaults, which would bypass the filter.
    SQL is never logged (``django.db.backends`` stays at INFO): its parameters hold personal data.
    """
    level = (level or "INFO").upper()
    handler = ["stdout"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_id_numbers": {"()": "bazhou.core.logredact.RedactIdNumbers"}},
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
                "datefmt": "%Y-%m-%d %H:%M:%S%z",
            },
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "filters": ["redact_id_numbers"],
                "formatter": "plain",
            },
        },
        "root": {"handlers": handler, "level": level},
        "loggers": {
            "django": {"handlers": handler, "level": level, "propagate": False},
            "django.server": {"handlers": handler, "level": level, "propagate": False},
            "django.db.backends": {"level": "INFO"},
            "gunicorn.error": {"handlers": handler, "level": level, "propagate": False},
            "gunicorn.access": {"handlers": handler, "level": "INFO", "propagate": False},
        },
    }
