"""A patient's message as a FHIR R4 Communication, both ways: a posted Communication to
what inbox.services.receive_message takes, and a stored Message back to a Communication.
No database here: the view looks the patient up and stores through the service.

What we read from a posted Communication (already valid FHIR, config.fhir):
  identifier[0].value      -> external_id, the idempotency key (required)
  subject                  -> the patient's MRN: "Patient/<MRN>" or an identifier's value
  payload[].contentString  -> body (the first one; required)
  sent                     -> sent_at (a full date and time with its offset)
  category[0]              -> category: the first coding's code, else its text
  topic.text               -> subject line
  sender                   -> when given, the patient (patient-to-practitioner only)
"""

import datetime
from dataclasses import dataclass

from config.fhir import MRN_SYSTEM, FhirUnprocessable
from inbox.services import IncomingMessage, PatientDetails

EXTERNAL_ID_MAX = 128  # inbox.models.Message.external_id
MRN_MAX = 64  # inbox.models.Patient.mrn
SUBJECT_MAX = 300
CATEGORY_MAX = 64


@dataclass(frozen=True)
class PostedCommunication:
    mrn: str
    incoming: IncomingMessage


def incoming_from_communication(resource: dict, *, body_max_chars: int) -> PostedCommunication:
    """What to store from a valid Communication; FhirUnprocessable (422) naming the
    element when it lacks what a patient's message needs."""
    mrn = _subject_mrn(resource)
    sender = resource.get("sender")
    if sender is not None and not _is_patient(sender):
        raise FhirUnprocessable(
            "Only a patient's message to the clinic is taken here: the sender must be the "
            "patient (a Patient reference or identifier) or left out.",
            expression="Communication.sender",
        )
    external_id = _identifier_value(resource)
    body = _body(resource, max_chars=body_max_chars)
    category = _category(resource)
    topic = ((resource.get("topic") or {}).get("text") or "").strip()
    return PostedCommunication(
        mrn=mrn,
        incoming=IncomingMessage(
            external_id=external_id,
            patient=PatientDetails(mrn=mrn),
            body=body,
            subject=topic[:SUBJECT_MAX],
            category=category,
            sent_at=_sent_at(resource),
        ),
    )


def _is_patient(reference: dict) -> bool:
    return reference.get("reference", "").startswith("Patient/") or (
        reference.get("type") in (None, "Patient") and bool(reference.get("identifier"))
    )


def _subject_mrn(resource: dict) -> str:
    subject = resource.get("subject")
    if not subject:
        raise FhirUnprocessable(
            "The Communication has no subject: give the patient as "
            '{"reference": "Patient/<MRN>"} or {"identifier": {"system": ..., "value": <MRN>}}.',
            expression="Communication.subject",
            issue_code="required",
        )
    reference = subject.get("reference")
    identifier = subject.get("identifier") or {}
    if reference:
        kind, _, mrn = reference.partition("/")
        if kind != "Patient" or not mrn or "/" in mrn:
            raise FhirUnprocessable(
                f"The subject must be a Patient, referenced as Patient/<MRN>; got {reference!r}.",
                expression="Communication.subject.reference",
            )
    elif subject.get("type") not in (None, "Patient"):
        raise FhirUnprocessable(
            "The subject must be a Patient.", expression="Communication.subject.type"
        )
    else:
        mrn = identifier.get("value", "")
    mrn = mrn.strip()
    if not mrn:
        raise FhirUnprocessable(
            "The subject names no patient: give a reference or an identifier with a value.",
            expression="Communication.subject",
            issue_code="required",
        )
    if len(mrn) > MRN_MAX:
        raise FhirUnprocessable(
            f"An MRN is at most {MRN_MAX} characters.", expression="Communication.subject"
        )
    return mrn


def _identifier_value(resource: dict) -> str:
    identifiers = resource.get("identifier") or []
    value = (identifiers[0].get("value") or "").strip() if identifiers else ""
    if not value:
        raise FhirUnprocessable(
            "Give the portal's id of the message as identifier[0].value: it is what makes a "
            "retried post safe (the same id is stored once).",
            expression="Communication.identifier",
            issue_code="required",
        )
    if len(value) > EXTERNAL_ID_MAX:
        raise FhirUnprocessable(
            f"identifier[0].value is at most {EXTERNAL_ID_MAX} characters.",
            expression="Communication.identifier[0].value",
        )
    return value


def _body(resource: dict, *, max_chars: int) -> str:
    texts = [
        part["contentString"].strip()
        for part in resource.get("payload") or []
        if isinstance(part.get("contentString"), str)
    ]
    body = next((text for text in texts if text), "")
    if not body:
        raise FhirUnprocessable(
            "The message text goes in payload[].contentString; there is none.",
            expression="Communication.payload",
            issue_code="required",
        )
    if len(body) > max_chars:
        raise FhirUnprocessable(
            f"The message text is longer than {max_chars} characters.",
            expression="Communication.payload.contentString",
            issue_code="too-long",
        )
    return body


def _category(resource: dict) -> str:
    categories = resource.get("category") or []
    if not categories:
        return ""
    first = categories[0]
    codes = [c.get("code") for c in first.get("coding") or [] if c.get("code")]
    return (codes[0] if codes else first.get("text") or "").strip()[:CATEGORY_MAX]


def _sent_at(resource: dict) -> datetime.datetime | None:
    sent = resource.get("sent")
    if sent is None:
        return None  # the service stamps the time of receipt
    try:
        at = datetime.datetime.fromisoformat(sent)
    except ValueError:
        at = None
    if at is None or len(sent) <= 10 or at.tzinfo is None:
        raise FhirUnprocessable(
            "sent must be a full date and time with its offset, e.g. 2024-12-04T21:30:00-08:00.",
            expression="Communication.sent",
        )
    return at


# --- out ------------------------------------------------------------------------------------


def patient_reference(mrn: str) -> dict:
    # By identifier, not "Patient/<MRN>": an MRN may hold characters a FHIR id may not.
    return {"type": "Patient", "identifier": {"system": MRN_SYSTEM, "value": mrn}}


def communication_from_message(
    *,
    message_id: int,
    external_id: str,
    mrn: str,
    subject: str,
    body: str,
    category: str,
    sent_at: datetime.datetime,
    received_at: datetime.datetime,
    updated_at: datetime.datetime,
) -> dict:
    """A stored patient message as a Communication (status completed: it was sent)."""
    communication = {
        "resourceType": "Communication",
        "id": str(message_id),
        "meta": {"lastUpdated": updated_at.isoformat()},
        "identifier": [{"value": external_id}],
        "status": "completed",
        "subject": patient_reference(mrn),
        "sender": patient_reference(mrn),
        "sent": sent_at.isoformat(),
        "received": received_at.isoformat(),
        "payload": [{"contentString": body}],
    }
    if category:
        communication["category"] = [{"text": category}]
    if subject:
        communication["topic"] = {"text": subject}
    return communication
