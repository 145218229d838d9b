"""The one admin base class: every change list, foreign-key choice and autocomplete is scoped to
the clinics the user administers (superusers see all). Permissions come from the capability map,
not from Django's per-model permission table, so the admin agrees with the API.

Searches that can match patient data never travel in a URL (see "Searches" below): the change
list's search box posts the text, which waits in the session under a random token, and the list
is opened with `?qt=<token>`; the autocomplete widgets post their term."""

from __future__ import annotations

import csv
import datetime as dt
import secrets
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import cached_property
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import label_for_field, lookup_field
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR, SEARCH_VAR, ChangeList
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import (
    FieldDoesNotExist,
    ObjectDoesNotExist,
    PermissionDenied,
    ValidationError,
)
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst, slugify
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_site import administers_any_clinic
from clinic.capabilities import Capability, Role
from clinic.paginators import LargeTablePaginator
from clinic.tenancy import clinic_ids_visible_to


def scope_for_admin(queryset: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
    """Narrow any queryset that knows its tenancy to what the admin user administers."""
    if request.user.is_superuser:
        return queryset
    if hasattr(queryset, "visible_to"):
        return queryset.visible_to(request.user, Capability.USE_ADMIN)
    return queryset


# --- CSV export ------------------------------------------------------------------------------

CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A value as a spreadsheet-safe CSV cell: text that a spreadsheet would run as a formula
    (`=`, `+`, `-`, `@` first) gets a leading apostrophe; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    if text.startswith(CSV_FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    """The file-like object csv.writer writes to: it hands each line back instead."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> Any:
    """A streamed CSV download: rows are written as they are read, never held in memory."""
    response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Searches that keep patient data out of URLs ---------------------------------------------
#
# A URL ends up in access logs, browser history and Referer headers. So an admin whose search can
# match patient data (`searches_patient_data`) takes the text only in a POST body: the search box
# posts to `<changelist>/search/`, which keeps the text in the session under a random token and
# answers 303 to the change list with `?qt=<token>`; the list reads the text back by token and
# every link it draws (pages, sorting, filters) keeps `qt`. A search in the URL (`?q=`) is a 400
# that says to use the search box. The autocomplete widgets post their term the same way
# (`PostedAutocompleteJsonView`, clinic/static/clinic/admin_autocomplete.js).

SEARCH_TOKEN_VAR = "qt"  # noqa: S105 (a query-string name, not a password)
SESSION_SEARCHES = "admin_searches"
SEARCHES_KEPT = 20  # per session; older tokens are forgotten, like tokens of an ended session
SEARCH_MAX_LENGTH = 100  # as the API's patient search
SEARCH_IN_URL_MESSAGE = (
    "q: searches here go through the search box, not the address: an address is kept in "
    "browser history and server logs, so patient names, dates of birth, phone numbers and MRNs "
    "must not be in it."
)
SEARCH_TOO_LONG_MESSAGE = f"q: a search is at most {SEARCH_MAX_LENGTH} characters."
SEARCH_ENDED_MESSAGE = (
    "That search has ended (searches last as long as your session), so the whole list is "
    "shown and nothing was changed. Search again with the search box."
)
AUTOCOMPLETE_TERM_IN_URL_MESSAGE = (
    "term: this autocomplete takes its term in a POST body, never in the URL, as it may be "
    "patient data."
)


def searches_patient_data(model_admin: Any) -> bool:
    """Whether `model_admin`'s search can match patient data: its model is one whose admin says
    `holds_patient_data` (patients), or one of its search_fields reaches such a model
    (`patient__mrn`, `episode__patient__mrn`, ...). Staff, rooms and the catalogues do not."""
    registry = model_admin.admin_site._registry

    def holds(model: Any) -> bool:
        return bool(getattr(registry.get(model), "holds_patient_data", False))

    if holds(model_admin.model):
        return True
    for name in model_admin.search_fields or ():
        model = model_admin.model
        for part in name.lstrip("^=@").split("__"):
            try:
                field = model._meta.get_field(part)
            except FieldDoesNotExist:
                break  # a lookup such as __exact ends the path
            if not field.is_relation or field.related_model is None:
                break
            model = field.related_model
            if holds(model):
                return True
    return False


def admin_search_remember(*, request: HttpRequest, model_label: str, query: str) -> str:
    """Keep `query` (for the change list of `model_label`) in the session; return its token.
    Only the SEARCHES_KEPT latest searches are kept."""
    token = secrets.token_urlsafe(12)
    searches = dict(request.session.get(SESSION_SEARCHES) or {})
    searches[token] = [model_label, query]
    request.session[SESSION_SEARCHES] = dict(list(searches.items())[-SEARCHES_KEPT:])
    return token


def admin_search_recall(*, request: HttpRequest, model_label: str, token: str) -> str | None:
    """The query this session kept under `token` for `model_label`'s list; None if unknown,
    forgotten, of another session or of another list."""
    entry = (request.session.get(SESSION_SEARCHES) or {}).get(token)
    if not isinstance(entry, list) or len(entry) != 2 or entry[0] != model_label:
        return None
    return str(entry[1])


def _query_string(params: Iterable[tuple[str, list[str]]], *, without: Iterable[str] = ()) -> str:
    """`?a=1&b=2` of `params` (name, values) less the names in `without`; "" if none is left."""
    dropped = set(without)
    kept = QueryDict(mutable=True)
    for name, values in params:
        if name not in dropped:
            kept.setlist(name, values)
    return f"?{kept.urlencode()}" if kept else ""


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


class TokenSearchChangeList(ChangeList):
    """A change list whose search text comes from the session by `?qt=<token>`. `qt` stays in
    every link the list draws (it is in `filter_params`) but is not a filter."""

    search_token_var = SEARCH_TOKEN_VAR

    def get_filters_params(self, params: Any = None) -> Any:
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(SEARCH_TOKEN_VAR, None)
        return lookup_params

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> Any:
        token = request.GET.get(SEARCH_TOKEN_VAR)
        if token:
            self.query = (
                admin_search_recall(request=request, model_label=self.opts.label_lower, token=token)
                or ""
            )
        return super().get_queryset(request, exclude_parameters)

    @cached_property
    def search_post_url(self) -> str:
        """Where the search box posts, for a list whose search can match patient data; "" for
        the others, whose search box stays Django's GET form."""
        if not searches_patient_data(self.model_admin):
            return ""
        info = (self.model_admin.admin_site.name, self.opts.app_label, self.opts.model_name)
        return reverse("{}:{}_{}_search".format(*info))


class PostedAutocompleteMixin:
    """An autocomplete widget whose select2 sends its requests as POST (the term in the body);
    admin_autocomplete.js adds the CSRF token to them."""

    def build_attrs(self, base_attrs: Any, extra_attrs: Any = None) -> dict[str, Any]:
        attrs = super().build_attrs(base_attrs, extra_attrs)  # type: ignore[misc]
        attrs["data-ajax--type"] = "POST"
        return attrs

    @property
    def media(self) -> forms.Media:
        # One list, so that the merge keeps it after Django's autocomplete.js.
        django_media = super().media  # type: ignore[misc]
        return forms.Media(
            css=django_media._css, js=[*django_media._js, "clinic/admin_autocomplete.js"]
        )


class PostedAutocompleteSelect(PostedAutocompleteMixin, AutocompleteSelect):
    pass


class PostedAutocompleteSelectMultiple(PostedAutocompleteMixin, AutocompleteSelectMultiple):
    pass


def _posted_autocomplete_widget(
    holder: Any, db_field: Any, request: HttpRequest, kwargs: dict[str, Any], *, multiple: bool
) -> None:
    """Give an autocomplete field the posting widget (before Django would give it its own)."""
    if "widget" in kwargs or db_field.name not in holder.get_autocomplete_fields(request):
        return
    widget = PostedAutocompleteSelectMultiple if multiple else PostedAutocompleteSelect
    kwargs["widget"] = widget(db_field, holder.admin_site, using=kwargs.get("using"))


class PostedAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete, answering POST (parameters in the body, CSRF-checked by the
    admin site's view wrapper) as Django answers GET. A GET with a term is a 400 naming `term`
    where the searched admin's search can match patient data; a GET without one (no typed text)
    is served as before. Scoping is unchanged: the searched admin's queryset and permissions."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET" and request.GET.get("term"):
            model_admin = self.process_request(request)[1]
            if searches_patient_data(model_admin):
                return JsonResponse(
                    {"errors": {"term": [AUTOCOMPLETE_TERM_IN_URL_MESSAGE]}}, status=400
                )
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Django's view reads its parameters (term, app_label, model_name, field_name, page)
        # from request.GET: hand it the body for this call only.
        query_string = request.GET
        request.GET = request.POST
        try:
            return super().get(request, *args, **kwargs)
        finally:
            request.GET = query_string


class ClinicScopedAdmin(SimpleHistoryAdmin):
    list_per_page = 50
    show_full_result_count = False
    paginator: type[Paginator] = LargeTablePaginator
    # The columns of "Export the selected rows as CSV": names as in list_display (fields,
    # admin methods or model attributes); None exports the change list's own columns.
    csv_fields: list[str] | None = None
    csv_chunk_size = 2000
    # True on the admin of a model that is patient data (patients): its search, and that of
    # every admin whose search_fields reach it, keeps the text out of URLs.
    holds_patient_data = False

    # --- Search ----------------------------------------------------------------------------

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TokenSearchChangeList

    def get_urls(self) -> list[Any]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_search"
        search = path("search/", self.admin_site.admin_view(self.search_view), name=name)
        return [search, *super().get_urls()]

    def _changelist_url(self, query_string: str = "") -> str:
        info = (self.admin_site.name, self.opts.app_label, self.opts.model_name)
        return reverse("{}:{}_{}_changelist".format(*info)) + query_string

    def _search_refused(self, request: HttpRequest, message: str, back: str) -> HttpResponse:
        return TemplateResponse(
            request,
            "admin/search_refused.html",
            {
                **self.admin_site.each_context(request),
                "title": "Search with the search box",
                "opts": self.opts,
                "message": message,
                "back_url": back,
            },
            status=400,
        )

    def search_view(self, request: HttpRequest) -> HttpResponse:
        """The search box's POST: keep the text in the session, answer 303 to the change list
        with its token (and the list's filters, sorting and popup flags from the form), never
        the text. An empty search goes back to the unsearched list."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        query = str(request.POST.get(SEARCH_VAR, "")).strip()
        form_only = (SEARCH_VAR, SEARCH_TOKEN_VAR, PAGE_VAR, ERROR_FLAG, "csrfmiddlewaretoken")
        params = [(name, values) for name, values in request.POST.lists() if name not in form_only]
        if len(query) > SEARCH_MAX_LENGTH:
            back = self._changelist_url(_query_string(params))
            return self._search_refused(request, SEARCH_TOO_LONG_MESSAGE, back)
        if query:
            token = admin_search_remember(
                request=request, model_label=self.opts.label_lower, query=query
            )
            params.append((SEARCH_TOKEN_VAR, [token]))
        return _see_other(self._changelist_url(_query_string(params)))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.GET.get(SEARCH_VAR) and searches_patient_data(self):
            back = _query_string(request.GET.lists(), without=(SEARCH_VAR, SEARCH_TOKEN_VAR))
            return self._search_refused(request, SEARCH_IN_URL_MESSAGE, self._changelist_url(back))
        token = request.GET.get(SEARCH_TOKEN_VAR)
        label = self.opts.label_lower
        if token is not None and (
            admin_search_recall(request=request, model_label=label, token=token) is None
        ):
            # Unknown or forgotten: the unsearched list with a word, and no action applied (a
            # "select all" would otherwise take every row of the list).
            self.message_user(request, SEARCH_ENDED_MESSAGE, messages.WARNING)
            rest = _query_string(request.GET.lists(), without=(SEARCH_TOKEN_VAR,))
            return _see_other(self._changelist_url(rest))
        return super().changelist_view(request, extra_context)

    # --- Export ----------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET or "export_csv" in actions:
            return actions
        func = type(self).export_csv
        actions["export_csv"] = (func, "export_csv", func.short_description)  # type: ignore[attr-defined]
        return actions

    def get_csv_fields(self, request: HttpRequest) -> list[str]:
        names = self.csv_fields or list(self.get_list_display(request))
        return [name for name in names if name != "action_checkbox"]

    def _csv_value(self, name: str, obj: Model) -> Any:
        try:
            field, _, value = lookup_field(name, obj, self)
        except (AttributeError, ObjectDoesNotExist):
            return None
        if field is not None and getattr(field, "flatchoices", None):
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, Model):
            return str(value)
        return value

    @admin.action(description="Export the selected rows as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        """Stream the selected rows (all of them with "select all") as CSV, in one query read
        in chunks; the rows are written to the response only, never logged."""
        names = self.get_csv_fields(request)
        header = [capfirst(str(label_for_field(name, self.model, self))) for name in names]
        related = self.get_list_select_related(request)
        if related is True:
            queryset = queryset.select_related()
        elif related:
            queryset = queryset.select_related(*related)
        queryset = queryset.order_by(*self.get_ordering(request) or ["pk"])
        rows = (
            [self._csv_value(name, obj) for name in names]
            for obj in queryset.iterator(chunk_size=self.csv_chunk_size)
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        return csv_response(
            f"{slugify(self.model._meta.verbose_name_plural)}-{stamp}.csv", header, rows
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_for_admin(super().get_queryset(request), request)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        _posted_autocomplete_widget(self, db_field, request, kwargs, multiple=False)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_admin(field.queryset, request)
        return field

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        _posted_autocomplete_widget(self, db_field, request, kwargs, multiple=True)
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_admin(field.queryset, request)
        return field

    # Permissions: an administrator of any clinic may work here; objects outside their clinics
    # are not in the queryset, so Django answers 404-like redirects for them.
    def _may(self, request: HttpRequest, obj: Model | None) -> bool:
        if not administers_any_clinic(request):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return administers_any_clinic(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return administers_any_clinic(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj)


class ClinicScopedInline(admin.TabularInline):
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_for_admin(super().get_queryset(request), request)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        _posted_autocomplete_widget(self, db_field, request, kwargs, multiple=False)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_admin(field.queryset, request)  # type: ignore[arg-type]
        return field

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return administers_any_clinic(request)


class ServiceCheckedForm(forms.ModelForm):
    """A model form that also runs the service's own check, so the admin refuses what the API
    refuses, with the error on the right field. Set `service_check` to the service's check."""

    service_check: Any = None

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        check = type(self).service_check
        if check is not None and not self.errors:
            try:
                check(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)  # type: ignore[attr-defined]


class ClinicFilter(admin.SimpleListFilter):
    """Filter by clinic, offering only the clinics the user administers."""

    title = "clinic"
    parameter_name = "clinic"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from clinic.models import Clinic

        clinics = scope_for_admin(Clinic.objects.all(), request).order_by("name")
        return [(str(c.pk), c.name) for c in clinics.only("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.for_clinic(int(value))  # type: ignore[attr-defined]


class StaffFilter(admin.SimpleListFilter):
    """Filter by a member of staff (`field`, a foreign key to User), offering only the people
    with `role` in the clinics the user administers. Subclass and set title, parameter_name,
    field and role."""

    title = "therapist"
    parameter_name = "therapist"
    field = "therapist"
    role: str | None = Role.THERAPIST

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from clinic.models import Membership, User

        roles = Membership.objects.all()
        if self.role is not None:
            roles = roles.filter(role=self.role)
        if not request.user.is_superuser:
            roles = roles.filter(
                clinic_id__in=clinic_ids_visible_to(request.user, Capability.USE_ADMIN)
            )
        people = User.objects.filter(pk__in=roles.values("user_id")).order_by(
            "last_name", "first_name", "pk"
        )
        return [
            (str(p.pk), p.get_full_name() or p.username)
            for p in people.only("pk", "username", "first_name", "last_name")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{f"{self.field}_id": int(value)})


class TherapistFilter(StaffFilter):
    pass


class AuthorFilter(StaffFilter):
    title = "author"
    parameter_name = "author"
    field = "author"
