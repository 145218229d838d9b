"""The patient search's pages: counted up to a cap, so a broad search never counts every match."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework.response import Response

from clinic.api.pagination import Pagination

# A search matching more patients than this is answered with the first SEARCH_COUNT_CAP (by
# name) and `"count_capped": true`: refine it rather than page through hundreds of names.
SEARCH_COUNT_CAP = 500


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows (`SELECT COUNT(*) FROM (... LIMIT cap + 1)`, which stops
    early), so the count costs the same whether a search matches 600 or 60,000 patients; the
    pages then cover the first `cap` matches."""

    cap = SEARCH_COUNT_CAP

    @cached_property
    def _counted(self) -> int:
        matches = self.object_list
        if not isinstance(matches, QuerySet):
            return len(matches)
        return matches.order_by()[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap


class SearchPagination(Pagination):
    """The list's pagination (`?page=`, `?page_size=` up to 200) with the count capped at
    SEARCH_COUNT_CAP: `count` is exact up to the cap, and `count_capped` says there are more."""

    django_paginator_class = CappedCountPaginator

    def get_paginated_response(self, data: Any) -> Response:
        assert self.page is not None  # noqa: S101 (paginate_queryset came first)
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count,
                "count_capped": isinstance(paginator, CappedCountPaginator) and paginator.capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )
