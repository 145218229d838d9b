"""Change lists that stay fast on large tables: a paginator that never counts a huge table and
takes the same statements whatever its size (the admin's, clinic.admin_base)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet


def planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's planner estimate of the rows `queryset` returns (EXPLAIN, nothing is read);
    None on other databases."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTablePaginator(Paginator):
    """A paginator that never counts a huge table, in the same statements whatever its size:
    PostgreSQL's planner estimate first (EXPLAIN, nothing is read), then an exact count that
    stops after `exact_up_to` rows (`SELECT COUNT(*) FROM (... LIMIT n+1)`). Up to the cap the
    count is exact; beyond it, the estimate (never below what was counted), or the cap on other
    databases (which have no estimate: one statement there). So a change list of ten thousand
    or of a million visits costs the same two cheap statements, never a full scan."""

    exact_up_to = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        try:
            estimate = planner_estimate(queryset)
        except EmptyResultSet:  # a filter that can match nothing (an invalid id): no query
            return 0
        counted = queryset.order_by()[: self.exact_up_to + 1].count()
        if counted <= self.exact_up_to:
            return counted
        return max(counted, estimate or 0)
