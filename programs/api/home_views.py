"""Home exercise programmes under /api/v1/clinics/{clinic_id}/ (programs.api.home_urls):
parse, call one service or selector of programs.home, respond.

Who may: reading needs VIEW_CLINICAL (the front desk gets 403), writing MANAGE_CLINICAL, and
the services also require a therapist of the clinic to prescribe. Reads of a programme append
to the access log. Another clinic's programme is a 404, as everywhere.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.access import LogsPatientReads
from clinic.api.base import actor
from clinic.api.pagination import Pagination
from patients.api.clinical_views import IF_MATCH, VERSION_RESPONSES, _version
from programs import handouts, home
from programs.api import home_serializers as s
from programs.api.care_views import _CareViewSet
from programs.models import HomeProgram, HomeProgramLink

CONTRAINDICATED = OpenApiResponse(
    description="A field or an item (`items[0].sets`, `items[1].exercise`), or a "
    "contraindicated exercise without a justification (code `contraindicated`, with `findings`)."
)


class _HomeViewSet(LogsPatientReads, _CareViewSet):
    def program(self) -> HomeProgram:
        if not hasattr(self, "_program"):
            program = home.home_program_get(clinic=self.clinic, public_id=self.kwargs["public_id"])
            if program is None:
                raise NotFound("No such home programme.")
            self._program = program
        return self._program

    def read(self, program: HomeProgram, what: str) -> None:
        self.log_read(program.episode.patient.public_id, what=what)


def _program_response(
    view: _HomeViewSet, program: HomeProgram, code: int = status.HTTP_200_OK
) -> Response:
    fresh = home.home_program_get(clinic=view.clinic, public_id=program.public_id)
    assert fresh is not None  # noqa: S101 (just written or read in this request)
    context = {**view.context(), "versions": home.home_program_current_versions(programs=[fresh])}
    response = Response(s.HomeProgramSerializer(fresh, context=context).data, status=code)
    response["ETag"] = f'"{fresh.current_version}"'
    return response


class EpisodeHomeProgramViewSet(_HomeViewSet):
    """An episode's home programmes (the active one first); POST prescribes a new one."""

    model = HomeProgram
    serializer_class = s.HomeProgramSerializer
    pagination_class = Pagination

    def get_clinic_queryset(self) -> Any:
        return home.home_program_list(clinic=self.clinic, episode=self.episode())

    @extend_schema(responses=s.HomeProgramSerializer(many=True))
    def list(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        episode = self.episode()
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # noqa: S101 (the view is paginated)
        context = {**self.context(), "versions": home.home_program_current_versions(programs=page)}
        self.log_read(episode.patient.public_id, what="home programme list")
        return self.get_paginated_response(
            s.HomeProgramSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        request=s.HomeProgramCreateSerializer,
        responses={
            201: s.HomeProgramSerializer,
            400: CONTRAINDICATED,
            409: OpenApiResponse(description="The episode has an active programme: change it."),
        },
    )
    def create(self, request: Request, clinic_id: str, episode_id: str) -> Response:
        episode = self.episode()
        data = self.parsed(s.HomeProgramCreateSerializer)
        program = home.home_program_create(episode=episode, by=actor(request), **data)
        return _program_response(self, program, status.HTTP_201_CREATED)


class HomeProgramViewSet(_HomeViewSet):
    """One home programme: its current version; PUT/PATCH makes a new version (based on the
    current one: If-Match or `version`); its versions, handout, links, sessions, adherence."""

    model = HomeProgram
    serializer_class = s.HomeProgramSerializer

    def get_clinic_queryset(self) -> Any:
        return HomeProgram.objects.for_clinic(self.clinic)

    @extend_schema(responses=s.HomeProgramSerializer)
    def retrieve(self, request: Request, clinic_id: str, public_id: str) -> Response:
        program = self.program()
        self.read(program, "home programme")
        return _program_response(self, program)

    @extend_schema(
        request=s.HomeProgramReviseSerializer,
        parameters=[IF_MATCH],
        responses={200: s.HomeProgramSerializer, 400: CONTRAINDICATED, **VERSION_RESPONSES},
    )
    def update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """A new version: the given items and notes replace the current ones (omitted: carried
        over)."""
        program = self.program()
        data = self.parsed(s.HomeProgramReviseSerializer)
        version = _version(request, data.pop("version", None))
        program = home.home_program_revise(
            program=program, by=actor(request), version=version, **data
        )
        return _program_response(self, program)

    @extend_schema(
        request=s.HomeProgramReviseSerializer,
        parameters=[IF_MATCH],
        responses={200: s.HomeProgramSerializer, 400: CONTRAINDICATED, **VERSION_RESPONSES},
    )
    def partial_update(self, request: Request, clinic_id: str, public_id: str) -> Response:
        return self.update(request, clinic_id, public_id)

    @extend_schema(responses=s.HomeProgramVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Every version, newest first, each with its items (earlier versions never change)."""
        program = self.program()
        paginator = Pagination()
        page = paginator.paginate_queryset(
            home.home_program_version_list(program=program), request, view=self
        )
        self.read(program, "home programme versions")
        return paginator.get_paginated_response(
            s.HomeProgramVersionSerializer(page, many=True).data
        )

    @extend_schema(
        request=None,
        responses={200: s.HomeProgramSerializer, 409: OpenApiResponse(description="Archived.")},
    )
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, clinic_id: str, public_id: str) -> Response:
        program = home.home_program_archive(program=self.program(), by=actor(request))
        return _program_response(self, program)

    def _handout_version(self, request: Request) -> Any:
        program = self.program()
        number = request.query_params.get("version")
        if number is not None and not number.isdigit():
            raise NotFound("No such version.")
        version = home.home_program_version_get(
            program=program, version=None if number is None else int(number)
        )
        if version is None:
            raise NotFound("No such version.")
        found = handouts.handout_version_get(version_id=version.pk)
        self.read(program, "home programme handout")
        return found

    @extend_schema(
        parameters=[
            OpenApiParameter("version", OpenApiTypes.INT, description="Default: the current.")
        ],
        responses={(200, "text/html"): OpenApiTypes.STR},
    )
    def handout_html(self, request: Request, clinic_id: str, public_id: str) -> HttpResponse:
        """The print-friendly handout page."""
        version = self._handout_version(request)
        response = HttpResponse(handouts.handout_html(version), content_type="text/html")
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter("version", OpenApiTypes.INT, description="Default: the current.")
        ],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    def handout_pdf(self, request: Request, clinic_id: str, public_id: str) -> HttpResponse:
        """The handout as a PDF (WeasyPrint)."""
        version = self._handout_version(request)
        response = HttpResponse(handouts.handout_pdf(version), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="{handouts.handout_filename(version, "pdf")}"'
        )
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(methods=["get"], responses=s.HomeProgramLinkSerializer(many=True), request=None)
    @extend_schema(
        methods=["post"],
        request=s.HomeProgramLinkCreateSerializer,
        responses={201: s.HomeProgramLinkSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def links(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """The patient links of the programme; POST makes a new one (its `url` is what the
        patient opens, no login)."""
        program = self.program()
        if request.method == "POST":
            data = self.parsed(s.HomeProgramLinkCreateSerializer)
            link = home.home_link_create(program=program, by=actor(request), **data)
            return Response(
                s.HomeProgramLinkSerializer(link, context=self.context()).data,
                status=status.HTTP_201_CREATED,
            )
        paginator = Pagination()
        page = paginator.paginate_queryset(home.home_link_list(program=program), request, view=self)
        return paginator.get_paginated_response(
            s.HomeProgramLinkSerializer(page, many=True, context=self.context()).data
        )

    @extend_schema(methods=["get"], responses=s.HomeSessionSerializer(many=True), request=None)
    @extend_schema(
        methods=["post"],
        request=s.HomeSessionInputSerializer,
        responses={
            201: s.HomeSessionSerializer,
            409: OpenApiResponse(description="The version is not the current one (`superseded`)."),
        },
    )
    @action(detail=True, methods=["get", "post"])
    def sessions(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """The sessions recorded, latest first; POST records one for the patient."""
        program = self.program()
        if request.method == "POST":
            data = self.parsed(s.HomeSessionInputSerializer)
            session = home.home_session_record(program=program, by=actor(request), **data)
            fresh = home.home_session_list(program=program).get(pk=session.pk)
            return Response(s.HomeSessionSerializer(fresh).data, status=status.HTTP_201_CREATED)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            home.home_session_list(program=program), request, view=self
        )
        self.read(program, "home sessions")
        return paginator.get_paginated_response(s.HomeSessionSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATE, description="Default: the start."),
            OpenApiParameter("until", OpenApiTypes.DATE, description="Default: today."),
        ],
        responses=s.AdherenceSerializer,
    )
    @action(detail=True, methods=["get"])
    def adherence(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """Sessions done against sessions prescribed per ISO week (clinic calendar) and in all
        since `since`. The rule is documented in programs.home."""
        program = self.program()
        query = s.AdherenceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = home.home_program_adherence(program=program, **query.validated_data)
        self.read(program, "home adherence")
        body = {"program": program.public_id, **result.as_dict()}
        return Response(s.AdherenceSerializer(body).data)

    @extend_schema(
        request=None,
        responses={
            202: s.HomeEmailSerializer,
            200: s.HomeEmailSerializer,
            400: OpenApiResponse(
                description="No e-mail consent (`no_email_consent`) or no address "
                "(`no_email_address`)."
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="send-email")
    def send_email(self, request: Request, clinic_id: str, public_id: str) -> Response:
        """E-mail the current version's handout to the patient (after commit, by a background
        job): 202. A version already requested or sent is not sent again: 200 with its state."""
        found = home.home_program_email_request(program=self.program(), by=actor(request))
        body = {
            "version": found.version.version,
            "status": found.email.status,
            "requested_at": found.email.requested_at,
            "sent_at": found.email.sent_at,
        }
        code = status.HTTP_202_ACCEPTED if found.created else status.HTTP_200_OK
        return Response(s.HomeEmailSerializer(body).data, status=code)


class HomeProgramLinkViewSet(_HomeViewSet):
    """Revoke a patient link: it stops working at once."""

    model = HomeProgramLink
    serializer_class = s.HomeProgramLinkSerializer

    def get_clinic_queryset(self) -> Any:
        return HomeProgramLink.objects.for_clinic(self.clinic)

    @extend_schema(request=None, responses=s.HomeProgramLinkSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, clinic_id: str, public_id: str) -> Response:
        link = home.home_link_get(clinic=self.clinic, public_id=public_id)
        if link is None:
            raise NotFound("No such patient link.")
        link = home.home_link_revoke(link=link, by=actor(request))
        fresh = home.home_link_get(clinic=self.clinic, public_id=link.public_id)
        return Response(s.HomeProgramLinkSerializer(fresh, context=self.context()).data)
