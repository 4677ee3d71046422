"""The one rule for characters a saved text may hold, and for text that is blank to the eye.

XML 1.0 (every .xlsx and .docx the product writes) cannot carry NUL and the other C0 controls except tab and line
breaks, lone surrogates, U+FFFE or U+FFFF; PostgreSQL refuses NUL outright. Such characters are refused where a
request brings them in (pages, the API, imports) with :data:`ILLEGAL_MESSAGE`, and stripped by every writer with
:func:`strip_illegal` in case an older row holds one.

A text made only of spaces and zero-width characters (U+200B…U+200D, U+2060, U+FEFF) looks empty on every page and
in every export: :func:`is_blank` says so, and required texts refuse it like an empty one.
"""

from __future__ import annotations

import re

# Everything XML 1.0 does not allow: C0 controls but \t \n \r, lone surrogates, U+FFFE, U+FFFF.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Invisible characters that make a text look non-empty to a computer and empty to a person.
INVISIBLE = re.compile("[\\s\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e]+")

ILLEGAL_MESSAGE = "含有不能保存的控制字符（如 NUL、U+FFFF），请删除后重新输入。"
BLANK_MESSAGE = "不能只含空格或看不见的字符。"


def find_illegal(text: str) -> str | None:
    """The first character of ``text`` that cannot be saved, as ``U+XXXX``, or None."""
    match = ILLEGAL.search(text)
    return f"U+{ord(match.group()):04X}" if match else None


def has_illegal(text: str) -> bool:
    return ILLEGAL.search(text) is not None


def strip_illegal(text: str) -> str:
    """``text`` without the characters XML cannot carry (for writers: a defence, not the check at input)."""
    return ILLEGAL.sub("", text)


def is_blank(text: str) -> bool:
    """True when ``text`` holds nothing a person can see: only spaces, line breaks and zero-width characters."""
    return not INVISIBLE.sub("", text)


def illegal_message(text: str) -> str:
    """:data:`ILLEGAL_MESSAGE` naming the character found, for a field or a cell."""
    found = find_illegal(text)
    return f"含有不能保存的控制字符 {found}，请删除后重新输入。" if found else ILLEGAL_MESSAGE


def text_errors(instance, required: tuple[str, ...] = ()) -> dict[str, str]:
    """The messages of a model instance's texts, by field, for its ``clean``: any text field holding a character
    that cannot be saved (:func:`illegal_message`), and each of the ``required`` texts that is not empty but
    blank to the eye (:data:`BLANK_MESSAGE`; an empty one gets Django's own “required” message)."""
    errors = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname, None)
        if not isinstance(value, str) or not value:
            continue
        if has_illegal(value):
            errors[field.name] = illegal_message(value)
        elif field.name in required and is_blank(value):
            errors[field.name] = BLANK_MESSAGE
    return errors
