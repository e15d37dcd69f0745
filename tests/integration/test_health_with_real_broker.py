import pytest
from django.test import Client

from tests.integration.conftest import _broker_url

pytestmark = pytest.mark.integration


def test_ready_reaches_the_real_broker(settings, active_model_version):
    settings.CELERY_BROKER_URL = _broker_url()

    response = Client().get("/health/ready")

    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"] == {"ok": True, "detail": "answers"}
