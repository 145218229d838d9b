"""The API's filter backend: django-filter's, with date-time filters that speak UTC.

A date-time filter value may carry any UTC offset Python accepts (up to +-23:59), but PostgreSQL
refuses offsets beyond +-15:59 ("time zone displacement out of range"): a 500 for a bad query
string. Here the value is converted to UTC first, and one that has no UTC equivalent (year 1 at
+14:00) is a 400 naming the parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db import models
from django_filters import fields, filters
from django_filters.rest_framework import DjangoFilterBackend, FilterSet


class UTCIsoDateTimeField(fields.IsoDateTimeField):
    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError("This date and time has no UTC equivalent.") from exc


class UTCIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class ClinicFilterSet(FilterSet):
    FILTER_DEFAULTS = {
        **FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": UTCIsoDateTimeFilter},
    }


class FilterBackend(DjangoFilterBackend):
    filterset_base = ClinicFilterSet
