"""Which requests machines make: their answers are JSON, never an HTML page. Its own
module, with no DRF import, because DRF's settings load the request-limit parser that
asks it."""

from django.http import HttpRequest

API_PREFIX = "/api/"
MACHINE_PREFIXES = (API_PREFIX, "/fhir/")


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(MACHINE_PREFIXES)
