"""The routing app's tables, one module per concern; imported here for Django."""

from routing.models.configuration import (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    OnCallShift,
    RoutingRule,
    ScopeGrant,
    SlaPolicy,
)
from routing.models.records import Notification, OperationsSnapshot, RuleReplay, SlaBreach
from routing.models.staff_text import InternalNote, QuickReply
from routing.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription
from routing.models.work import Queue, WorkEvent, WorkItem

__all__ = [
    "AutoReplyTemplate",
    "BusinessHours",
    "ClinicClosure",
    "ClinicRouting",
    "InternalNote",
    "Notification",
    "OnCallShift",
    "OperationsSnapshot",
    "Queue",
    "QuickReply",
    "RoutingRule",
    "RuleReplay",
    "ScopeGrant",
    "SlaBreach",
    "SlaPolicy",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "WorkEvent",
    "WorkItem",
]
