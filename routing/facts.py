"""What the rules see of a message: one conversion from a message's text, its patient
and its classification labels to rules.MessageFacts, for routing, the replay and the
rule tester's typed message."""

import datetime
from collections.abc import Mapping

from inbox.models import Message
from routing import rules
from triage.models import Classification

# The classification fields the rules read (Classification columns, or labels_for's keys).
LABEL_FIELDS = (
    "acuity",
    "routing_service_level",
    "acuity_confidence",
    "service_level_confidence",
    "evisit_confidence",
    "needs_review",
    "unclassified",
    "red_flags",
)


def facts_from_labels(
    *,
    subject: str,
    body: str,
    category: str,
    language: str,
    on_chemotherapy: bool,
    received_at: datetime.datetime,
    time_zone: str,
    labels: Mapping,
) -> rules.MessageFacts:
    return rules.facts_for(
        subject=subject,
        body=body,
        category=category,
        language=language,
        on_chemotherapy=on_chemotherapy,
        received_at=received_at,
        time_zone=time_zone,
        acuity=labels["acuity"],
        service_level=labels["routing_service_level"],
        acuity_confidence=labels["acuity_confidence"],
        service_level_confidence=labels["service_level_confidence"],
        evisit_confidence=labels["evisit_confidence"],
        needs_review=labels["needs_review"] or labels["unclassified"],
        red_flags=[flag["name"] for flag in labels["red_flags"]],
    )


def message_facts(
    *, message: Message, classification: Classification, time_zone: str
) -> rules.MessageFacts:
    patient = message.conversation.patient
    return facts_from_labels(
        subject=message.subject,
        body=message.body,
        category=message.category,
        language=patient.preferred_language,
        on_chemotherapy=patient.on_chemotherapy,
        received_at=message.created_at,
        time_zone=time_zone,
        labels={field: getattr(classification, field) for field in LABEL_FIELDS},
    )
