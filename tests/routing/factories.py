import factory

from inbox.models import Message
from routing import services
from routing.models import Queue, RoutingRule, WebhookEvent, WebhookSubscription, WorkItem
from tests.accounts.factories import ClinicFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from tests.triage.factories import ClassificationFactory


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue

    clinic = factory.SubFactory(ClinicFactory)
    role = "nurse"
    name = factory.Sequence(lambda n: f"Pool {n}")


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    order = factory.Sequence(lambda n: n)
    conditions = factory.LazyFunction(dict)
    action = factory.LazyFunction(dict)


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    """Every event, no PHI, unless told otherwise."""

    class Meta:
        model = WebhookSubscription

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Receiver {n}")
    url = "http://127.0.0.1:9/events"
    events = factory.LazyFunction(lambda: list(WebhookEvent.values))


def classified_message(
    clinic, *, acuity="routine", level="nurse", conversation=None, **message
) -> Message:
    """A message of `clinic` with a stored classification, ready to route."""
    conversation = conversation or ConversationFactory(patient=PatientFactory(clinic=clinic))
    return ClassificationFactory(
        message=MessageFactory(conversation=conversation, **message),
        acuity=acuity,
        service_level=level,
    ).message


def routed_item(clinic, **kwargs) -> WorkItem:
    """A classified message of `clinic` routed by the real router: its work item."""
    return services.route(message_id=classified_message(clinic, **kwargs).pk)
