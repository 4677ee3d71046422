"""Named database constraints that also speak Chinese when ``full_clean()`` finds them violated."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def not_negative(what: str) -> MinValueValidator:
    """A field validator that names the field: “计划资金不能为负数。” rather than a generic message."""
    return MinValueValidator(0, message=f"{what}不能为负数。")


def at_most(limit: int, message: str) -> MaxValueValidator:
    return MaxValueValidator(limit, message=message)


def check(name: str, condition, message: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=condition, name=name, violation_error_message=message)


def unique(name: str, fields: list[str], message: str, condition=None) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=fields, name=name, condition=condition, violation_error_message=message)
