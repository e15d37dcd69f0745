import factory

from inbox.models import Message
from tests.inbox.factories import MessageFactory
from triage.ml.corpus import LabeledMessage
from triage.models import Classification, LabelCorrection


class ClassificationFactory(factory.django.DjangoModelFactory):
    """A stored classification, for routing tests that do not need the model. The
    message is marked classified, as triage.services.classify leaves it."""

    class Meta:
        model = Classification
        skip_postgeneration_save = True

    message = factory.SubFactory(MessageFactory)
    acuity = "routine"
    service_level = "nurse"
    routing_service_level = factory.SelfAttribute("service_level")
    evisit_candidate = False
    acuity_confidence = 0.9
    service_level_confidence = 0.9
    evisit_confidence = 0.9

    @factory.post_generation
    def mark_classified(obj, create, extracted, **kwargs):
        if create:
            Message.objects.filter(pk=obj.message_id).update(status=Message.Status.CLASSIFIED)


def small_training_corpus() -> list[LabeledMessage]:
    """A few labeled messages of every class, three times over: enough to fit every head
    of every model variant in a second."""
    examples = [
        ("crushing chest pain right now", "emergent", "nurse", False),
        ("I can't breathe, lips blue", "emergent", "nurse", False),
        ("burning when I pee since yesterday", "urgent", "nurse", True),
        ("vomiting for two days, can't keep water down", "urgent", "nurse", True),
        ("can I reschedule my appointment", "routine", "clerical", False),
        ("¿puedo cambiar mi cita? gracias", "routine", "clerical", False),
        ("refill lisinopril, two weeks left", "routine", "ma", False),
        ("should I stop tamoxifen before surgery", "routine", "physician", True),
        ("what is noonan syndrome", "routine", "nurse", False),
    ]
    return [
        LabeledMessage(
            id=f"m{copy}-{i}",
            subject="",
            body=body,
            acuity=acuity,
            service_level=level,
            evisit_candidate=evisit,
        )
        for copy in range(3)
        for i, (body, acuity, level, evisit) in enumerate(examples)
    ]


class LabelCorrectionFactory(factory.django.DjangoModelFactory):
    """A staff correction of a message's label, proposed (not yet reviewed)."""

    class Meta:
        model = LabelCorrection

    message = factory.SubFactory(MessageFactory)
    label = "acuity"
    from_value = "routine"
    to_value = "urgent"
    reason = "chest pain on exertion"
