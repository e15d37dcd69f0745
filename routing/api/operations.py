"""GET /api/v1/operations?clinic=SLUG: the operations dashboard's figures as JSON, for the
clinic's administrators and managers (routing.operations.clinics_for_dashboard); 404 to
other staff, refused to an integration's token. Aggregates only: no patient, no log."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from routing import operations, operations_rollup


class OperationsApi(APIView):
    # Clinic-wide figures for administrators and managers, not anyone's work: admin:read.
    required_scopes = {"GET": "admin:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "clinic", str, description="Clinic slug; the person's only clinic if left out."
            )
        ],
        responses=OpenApiResponse(
            {
                "type": "object",
                "properties": {"clinic": {"type": "string"}},
                "required": ["clinic"],
                "additionalProperties": True,
            },
            description="The operations dashboard's figures (docs/operations.md).",
        ),
    )
    def get(self, request: Request) -> Response:
        clinic, _clinics = operations.access_dashboard(
            user=request.user, slug=request.query_params.get("clinic")
        )
        period = operations.Period.last_weeks(clinics=[clinic], now=timezone.now())
        figures = operations_rollup.dashboard_for(clinic=clinic, now=period.end)
        return Response({"clinic": clinic.slug, **figures})
