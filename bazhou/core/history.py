"""History for rows written in bulk.

django-simple-history records through signals, so ``bulk_create`` and ``QuerySet.update`` leave no
trace. Code that writes in bulk (the demo, imports) calls :func:`record_in_bulk` in the same
transaction: one ``INSERT … SELECT`` copies the rows as they now stand into the history table,
signed with who, when and why.
"""

import datetime

from django.db import connections, models
from django.db.models import Value

HISTORY_OWN_FIELDS = {"history_id", "history_date", "history_change_reason", "history_type", "history_user"}


def record_in_bulk(
    queryset: models.QuerySet, *, when: datetime.datetime, user=None, reason: str = "", history_type: str = "+"
) -> int:
    """Write one history row for each row of ``queryset``; returns how many were written."""
    model = queryset.model
    history_model = model.history.model
    tracked = [f for f in history_model._meta.concrete_fields if f.name not in HISTORY_OWN_FIELDS]
    rows = (
        queryset.order_by()
        .annotate(
            _history_date=Value(when, models.DateTimeField()),
            _history_reason=Value(reason, models.TextField()),
            _history_type=Value(history_type, models.CharField()),
            _history_user=Value(user.pk if user else None, models.BigIntegerField()),
        )
        .values_list(
            *[f.attname for f in tracked], "_history_date", "_history_reason", "_history_type", "_history_user"
        )
    )
    select_sql, params = rows.query.sql_with_params()
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    columns = [f.column for f in tracked] + ["history_date", "history_change_reason", "history_type", "history_user_id"]
    sql = f"INSERT INTO {quote(history_model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) {select_sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
