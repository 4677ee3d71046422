"""Small pieces every app's services share: signing a history record, collecting Chinese errors by field, and the
conflict a version check raises."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction


class EditConflict(Exception):
    """Someone saved the record after the caller read it; nothing was changed. ``current`` is the record as it now
    stands; :attr:`what` names it in a message ("施工图任务“…”")."""

    def __init__(self, current, message: str = ""):
        self.current = current
        super().__init__(message or f"{current._meta.verbose_name} {current} 已被他人修改。")

    @property
    def what(self) -> str:
        return f"{self.current._meta.verbose_name}“{self.current}”"


def sign(obj, user, reason: str) -> None:
    """Who and why, for the history record simple-history writes on the next save() or delete()."""
    obj._history_user = user
    obj._change_reason = reason


def add_error(errors: dict, field: str, *messages: str) -> None:
    bucket = errors.setdefault(field, [])
    bucket.extend(m for m in messages if m not in bucket)


def collect_errors(errors: dict, validate) -> None:
    """Run ``validate`` (e.g. ``obj.full_clean``) and add what it raises to ``errors``, by field."""
    try:
        validate()
    except ValidationError as e:
        for field, messages in e.message_dict.items():
            add_error(errors, field, *messages)


def raise_if(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def save_checked(obj) -> None:
    """Save ``obj``, already checked with ``full_clean``. If another transaction wrote a row that breaks one of
    its unique rules in between (two people registering the same ID number at once), the database refuses the
    save; the rules are then checked again and the loser gets their Chinese message instead of a server error."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        errors: dict = {}
        collect_errors(errors, obj.full_clean)
        raise_if(errors)
        raise
