"""An emergent message, through a real worker: the patient's auto-reply and the on-call
alert (email and signed webhook) within 5 seconds of the post."""

import datetime
import http.server
import threading
import time

import pytest
from django.utils import timezone

from accounts.models import Role
from inbox.models import OutgoingMessage
from routing.models import ClinicRouting, OnCallShift
from routing.notifications import SIGNATURE_HEADER, verify
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory

pytestmark = pytest.mark.integration

LIMIT_SECONDS = 5
SECRET = "webhook-secret-for-the-test"


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((time.monotonic(), self.headers[SIGNATURE_HEADER], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_receiver():
    Receiver.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts"
    server.shutdown()


def test_emergent_message_auto_reply_and_on_call_alert_within_5_seconds(
    workers, active_model_version, client_for, webhook_receiver, tmp_path
):
    clinic = ClinicFactory(slug="onc")
    ClinicRouting.objects.create(
        clinic=clinic, alert_webhook_url=webhook_receiver, alert_webhook_secret=SECRET
    )
    on_call = StaffFactory(clinic=clinic, role=Role.PHYSICIAN, email="dr.oncall@clinic.test")
    now = timezone.now()
    OnCallShift.objects.create(
        clinic=clinic,
        clinician=on_call,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(hours=12),
    )
    mail_dir = tmp_path / "mail"
    workers.start(
        "alerts",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=mail_dir,
    )
    clerk = IntegrationFactory(clinic=clinic).account  # the portal

    posted = time.monotonic()
    response = client_for(clerk).post(
        "/api/v1/messages",
        {
            "external_id": "emergent-1",
            "clinic": clinic.slug,
            "patient": {"mrn": "P-9", "preferred_language": "es"},
            "subject": "Receta",
            "body": "Tengo un dolor de pecho muy fuerte y me falta el aire desde hace media hora.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    reply_seconds = email_seconds = None
    while time.monotonic() - posted < LIMIT_SECONDS + 5:
        elapsed = time.monotonic() - posted
        if reply_seconds is None and OutgoingMessage.objects.filter(kind="auto_reply").exists():
            reply_seconds = elapsed
        if email_seconds is None and mail_dir.exists() and any(mail_dir.iterdir()):
            email_seconds = elapsed
        if reply_seconds and email_seconds and Receiver.received:
            break
        time.sleep(0.05)

    assert Receiver.received, "no webhook alert"
    webhook_at, signature, body = Receiver.received[0]
    webhook_seconds = webhook_at - posted
    print(
        f"auto-reply stored after {reply_seconds:.2f}s, email alert after {email_seconds:.2f}s, "
        f"webhook alert after {webhook_seconds:.2f}s"
    )
    assert verify(SECRET, signature, body)
    assert not verify("another-secret", signature, body)
    reply = OutgoingMessage.objects.get(kind="auto_reply")
    assert reply.language == "es"
    assert "911" in reply.body
    email = next(mail_dir.iterdir()).read_text()
    assert "dr.oncall@clinic.test" in email
    assert max(reply_seconds, email_seconds, webhook_seconds) <= LIMIT_SECONDS
