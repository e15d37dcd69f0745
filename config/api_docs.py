"""/api/schema/ (the OpenAPI 3 description, YAML or ?format=json) and /api/docs/ (Swagger UI
over it). Apart from config/api_schema.py, which DRF imports as DEFAULT_SCHEMA_CLASS while
these views are being defined."""

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated

import config.api_schema  # noqa: F401  (registers the bearer token scheme)


# Least privilege: the description names no patient, but it is not for the public either;
# any signed-in principal (staff session or any token, no scope needed) may read it.
class SchemaApi(SpectacularAPIView):
    permission_classes = [IsAuthenticated]
    allow_integrations = True
    required_scopes: dict[str, str] = {}


# Swagger UI's own stylesheet draws its icons as data: images; nothing else on the page is
# relaxed (its script is a URL of ours, never inline: SpectacularSwaggerSplitView).
@method_decorator(csp_update({"img-src": ["data:"]}), name="dispatch")
class SwaggerDocsPage(SpectacularSwaggerSplitView):
    permission_classes = [IsAuthenticated]
    allow_integrations = True
    required_scopes: dict[str, str] = {}
    url_name = "api-schema"
    # The package's page carries an inline <style>, which the CSP refuses.
    template_name = "api/swagger_ui.html"
