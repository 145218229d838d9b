"""The patient search's pages: one query per page, its rows and the number of matches together,
with the count capped so a broad search is answered with the first matches and a hint to refine."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Count, QuerySet, Window
from rest_framework.response import Response

from clinic.api.pagination import Pagination

# A search matching more patients than this is answered with the first SEARCH_COUNT_CAP (by
# name) and `"count_capped": true`: refine it rather than page through hundreds of names.
SEARCH_COUNT_CAP = 500


class CappedCountPaginator(Paginator):
    """A page of the search and the number of matches in one query: the page's rows carry
    `COUNT(*) OVER ()`. The database reads every match for the page anyway, to put them in name
    order before the LIMIT, so the count costs no second scan; a separate COUNT query would read
    the matches again (at 1M visits the trigram lists of each word of a name are the search's
    main cost). `count` is exact up to `cap`; the pages then cover the first `cap` matches."""

    cap = SEARCH_COUNT_CAP

    @cached_property
    def _counted(self) -> int:
        # Only reached for a list that isn't a query, or a page read some other way.
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

    def page(self, number: Any) -> Page:
        if not isinstance(self.object_list, QuerySet) or "_counted" in self.__dict__:
            return super().page(number)
        number = self._checked_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(
            self.object_list.annotate(search_matches=Window(Count("*")))[
                bottom : bottom + self.per_page + self.orphans
            ]
        )
        # No row: no match at all, or a page past the last (which validate_number refuses).
        self.__dict__["_counted"] = rows[0].search_matches if rows else 0
        number = self.validate_number(number)
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return Page(rows[: max(0, top - bottom)], number, self)

    def _checked_number(self, number: Any) -> int:
        """Django's checks of a page number that need no count: an integer, at least 1."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number


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
