"""FHIR R4 at the edge: validating resources with `fhir.resources`, OperationOutcome
answers, the application/fhir+json parser and renderer, and the base of the /fhir/ views.

fhir.resources 8 ships R5 as its default import, plus R4B and STU3; it has no R4 package.
We validate with its R4B models: every resource used here (Communication, Task, Bundle,
ChargeItem, CapabilityStatement, OperationOutcome) is the same in R4 (4.0.1) and R4B for
every element we read or write, and what we declare (`fhirVersion`) is R4.

Django and DRF are imported; the mapping of our rows to resources lives beside their
apps (inbox.fhir, routing.fhir, billing.services)."""

from importlib import metadata
from typing import Any

from django.http import Http404
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import DomainError, api_exception_handler
from config.request_limits import DepthLimitedJSONParser

FHIR_VERSION = "4.0.1"
FHIR_MEDIA_TYPE = "application/fhir+json"
# Our own identifier systems (URNs: nothing to resolve, unique to this application).
MRN_SYSTEM = "urn:portal-triage:mrn"
QUEUE_SYSTEM = "urn:portal-triage:queue"


class FhirInvalid(Exception):
    """A resource that is not valid FHIR (structure, types, required elements)."""

    def __init__(self, issues: list[dict]):
        super().__init__("; ".join(i.get("diagnostics", "") for i in issues))
        self.issues = issues


def validate_resource(resource: Any, *, expected_type: str | None = None) -> dict:
    """The resource unchanged when fhir.resources accepts it; else FhirInvalid, one issue
    per error with the element's path (FHIRPath-like, e.g. Communication.sent)."""
    if not isinstance(resource, dict):
        raise FhirInvalid([_issue("structure", "The body is not a JSON object (a resource).")])
    kind = resource.get("resourceType")
    if expected_type is not None and kind != expected_type:
        raise FhirInvalid(
            [_issue("structure", f"Expected a {expected_type} resource, got {kind!r}.")]
        )
    try:
        model = get_fhir_model_class(kind) if isinstance(kind, str) else None
    except (KeyError, ValueError, AttributeError):
        model = None
    if model is None:
        raise FhirInvalid([_issue("structure", f"Unknown resourceType {kind!r}.")])
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        raise FhirInvalid(
            [
                _issue(
                    "structure",
                    error["msg"],
                    expression=".".join([kind, *(str(p) for p in error["loc"])]),
                )
                for error in exc.errors()[:20]
            ]
        ) from None
    return resource


def _issue(code: str, diagnostics: str, *, severity: str = "error", expression: str = "") -> dict:
    issue = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def operation_outcome(
    code: str, diagnostics: str, *, severity: str = "error", expression: str = ""
) -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [_issue(code, diagnostics, severity=severity, expression=expression)],
    }


def outcome_of_issues(issues: list[dict]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": issues}


class FhirUnprocessable(DomainError):
    """A valid resource whose content we cannot act on (no subject, unknown patient):
    422, with the element at fault."""

    http_status = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "processing"

    def __init__(self, detail: str, *, expression: str = "", issue_code: str = "processing"):
        super().__init__(detail)
        self.expression = expression
        self.issue_code = issue_code


# --- HTTP -----------------------------------------------------------------------------------


class FhirJSONParser(DepthLimitedJSONParser):
    media_type = FHIR_MEDIA_TYPE


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_MEDIA_TYPE
    format = "fhir"


# The issue code (FHIR IssueType) for each HTTP refusal DRF raises.
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    503: "transient",
}


def fhir_exception_handler(exc: Exception, context: dict) -> Response | None:
    """The API's handler (statuses, the 503 with Retry-After, domain errors), its answer
    rewritten as an OperationOutcome: a FHIR client reads nothing else."""
    if isinstance(exc, FhirInvalid):
        return Response(outcome_of_issues(exc.issues), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, FhirUnprocessable):
        return Response(
            operation_outcome(exc.issue_code, exc.detail, expression=exc.expression),
            status=exc.http_status,
        )
    response = api_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        detail = "; ".join(
            f"{name}: {' '.join(str(m) for m in messages)}"
            for name, messages in (response.data.get("errors") or {}).items()
        )
    else:
        detail = (response.data or {}).get("detail", "") if isinstance(response.data, dict) else ""
    code = _ISSUE_CODES.get(response.status_code, "exception")
    if isinstance(exc, Http404):
        detail = "No such resource here."
    response.data = operation_outcome(code, str(detail) or "The request was refused.")
    return response


class FhirApiView(APIView):
    """The base of every /fhir/ view: FHIR JSON in and out (application/fhir+json, and
    application/json, which FHIR servers also accept), OperationOutcome for every error.
    Out of the OpenAPI schema: FHIR's own description is GET /fhir/metadata."""

    parser_classes = [FhirJSONParser, DepthLimitedJSONParser]
    renderer_classes = [FhirJSONRenderer, JSONRenderer]
    schema = None

    def get_exception_handler(self):
        return fhir_exception_handler


# --- the CapabilityStatement ----------------------------------------------------------------


def capability_statement(*, software_version: str, date: str) -> dict:
    """What /fhir/ serves: the interactions and search parameters below, nothing else."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "kind": "instance",
        "software": {"name": "portal-triage", "version": software_version},
        "implementation": {"description": "Patient portal message triage and routing"},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_MEDIA_TYPE, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Bearer token (Authorization: Bearer pt_...). Communication: the "
                    "clinic's integration tokens (fhir:write to create, fhir:read to read). "
                    "Task: clinical staff and the clinic's integration (fhir:read)."
                ),
                "security": {
                    "service": [{"coding": [{"system": _RESTFUL_SECURITY, "code": "OAuth"}]}],
                    "description": "Bearer API tokens issued by the clinic's administrator.",
                },
                "resource": [
                    {
                        "type": "Communication",
                        "interaction": [{"code": "create"}, {"code": "read"}],
                        "conditionalCreate": False,
                        "documentation": (
                            "A patient's message to the clinic. identifier[0].value is the "
                            "idempotency key: a repeat answers 200 with the stored one's "
                            "Location. The subject must be a patient the clinic knows."
                        ),
                    },
                    {
                        "type": "Task",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": [
                            {
                                "name": "owner",
                                "type": "reference",
                                "documentation": "Practitioner/ID (held by) or CareTeam/ID "
                                "(a queue's unheld items)",
                            },
                            {
                                "name": "status",
                                "type": "token",
                                "documentation": "ready, in-progress, completed (comma list)",
                            },
                            {"name": "_count", "type": "number"},
                        ],
                    },
                ],
            }
        ],
    }


_RESTFUL_SECURITY = "http://terminology.hl7.org/CodeSystem/restful-security-service"


class CapabilityStatementApi(FhirApiView):
    """GET /fhir/metadata: open to anyone, like every FHIR server's (SMART on FHIR asks
    for it): it names no patient and no clinic, and a client discovers the server with it
    before it has a token. Hence no authentication and no `required_scopes`."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request) -> Response:
        statement = capability_statement(software_version=_software_version(), date=CAPABILITY_DATE)
        return Response(validate_resource(statement))


# When what /fhir/ serves last changed: change it with the statement.
CAPABILITY_DATE = "2026-12-05"


def _software_version() -> str:
    try:
        return metadata.version("portal-triage")
    except metadata.PackageNotFoundError:
        return "unknown"
