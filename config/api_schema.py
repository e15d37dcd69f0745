"""The API's OpenAPI 3 description: the error shape every endpoint answers, the bearer
token scheme, and the two pages that serve it (/api/schema/ and /api/docs/).

Views describe their own request and success bodies (extend_schema); the answers every
endpoint can give whatever it does (401 without a token, 403 without the role or scope,
404 outside the clinic, 400 bad input, 429 throttled, 503 database down, and 413/415 for
a body) are added here to every operation that does not describe them itself, so a new
endpoint cannot ship with an undocumented error. FHIR routes answer an OperationOutcome
instead and describe their own errors.
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# config.errors.api_exception_handler (and the middleware answers of config.request_limits
# and config.unavailable) write this shape.
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API: `code` for programs, `detail` for people.",
    "properties": {
        "code": {
            "type": "string",
            "description": "Machine-readable, stable: e.g. invalid, not_found, "
            "permission_denied, not_authenticated, work_item_already_claimed, throttled, "
            "database_unavailable.",
            "example": "invalid",
        },
        "detail": {"type": "string", "example": "The request has missing or invalid fields."},
        "errors": {
            "description": "With code `invalid`: what is wrong with each field, by field "
            "name (nested for nested objects); a list when the input as a whole is wrong.",
            "oneOf": [
                {"type": "object", "additionalProperties": True},
                {"type": "array", "items": {}},
            ],
            "example": {"body": ["This field is required."]},
        },
        "reference": {
            "type": "string",
            "description": "With code `server_error`: quote it to support; the log has the "
            "details under it.",
        },
    },
    "required": ["code", "detail"],
}

ERROR_DESCRIPTIONS = {
    400: "Invalid input (`invalid`, with `errors`), unreadable JSON or a domain rule refused "
    "it (e.g. a reason is required).",
    401: "No credentials, or an unknown or revoked token.",
    403: "The role, the scope of practice or the token's scope does not allow this.",
    404: "Not found, or not in the clinics this principal may see (never confirmed).",
    409: "The work item's state says no (already claimed, closed).",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    429: "Too many requests for this token: wait as Retry-After says.",
    503: "The database is unreachable: retry after Retry-After seconds.",
}

# Added to every operation that does not describe them itself.
ALWAYS = (400, 401, 403, 404, 429, 503)
WITH_A_BODY = (413, 415)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """For extend_schema(responses=...): the statuses a view answers besides the usual ones
    (e.g. 409), each with the error shape."""
    return {
        status: OpenApiResponse(ERROR_REF, description=ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


def add_error_responses(result: dict, generator, request, public: bool) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS): the Error component and
    the usual error answers on every non-FHIR operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if path.startswith("/fhir/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            statuses = ALWAYS + (WITH_A_BODY if "requestBody" in operation else ())
            for status in statuses:
                responses.setdefault(
                    str(status),
                    {
                        "description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
            operation["responses"] = dict(sorted(responses.items()))
    return result


class AutoSchema(openapi.AutoSchema):
    """Our views are APIViews with inner InputSerializer and OutputSerializer classes
    (docs/style.md): those are the request and response bodies unless extend_schema says
    otherwise, and each is named after its view (ReceiveMessageApi.InputSerializer ->
    ReceiveMessageInput), since a dozen classes share the names Input and Output."""

    def get_request_serializer(self):
        inner = getattr(self.view, "InputSerializer", None)
        return inner() if inner is not None else super().get_request_serializer()

    def get_response_serializers(self):
        inner = getattr(self.view, "OutputSerializer", None)
        return inner() if inner is not None else super().get_response_serializers()

    def get_description(self) -> str:
        scope = self._token_scope()
        if scope is None:
            return super().get_description()
        # Integrators read this, not accounts/scopes.py: which scope to ask for.
        needs = f"With an API token: needs the scope `{scope}`."
        return "\n\n".join(part for part in (super().get_description(), needs) if part)

    def get_extensions(self) -> dict:
        scope = self._token_scope()
        return {"x-token-scope": scope} if scope else {}

    def _token_scope(self) -> str | None:
        required = getattr(self.view, "required_scopes", None) or {}
        return required.get(self.method.upper())

    def _get_serializer_field_meta(self, field, direction) -> dict:
        meta = super()._get_serializer_field_meta(field, direction)
        # `CharField(source="claimed_by.username", default=None)`: DRF answers the default
        # when the relation is empty, so the field can be null in a response.
        if direction == "response" and getattr(field, "default", ...) is None:
            meta["nullable"] = True
        return meta

    def get_serializer_name(self, serializer, direction) -> str:
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer and inner in ("InputSerializer", "OutputSerializer"):
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """accounts.authentication.ApiTokenAuthentication in the schema: a bearer token."""

    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "pt_...",
            "description": "An API token (accounts.ApiToken), shown once when an "
            "administrator creates it. Integration tokens (the portal, the EHR) and staff "
            "tokens; each carries scopes such as `messages:write` or `work:read`.",
        }
