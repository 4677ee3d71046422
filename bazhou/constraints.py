"""Named database constraints that also speak Chinese when ``full_clean()`` finds them violated."""

from django.db import models


def check(name: str, condition, message: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=condition, name=name, violation_error_message=message)


def unique(name: str, fields: list[str], message: str, condition=None) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=fields, name=name, condition=condition, violation_error_message=message)
