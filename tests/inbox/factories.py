import factory
from django.utils import timezone

from inbox.models import Conversation, Message, Patient
from tests.accounts.factories import ClinicFactory


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    name = factory.Faker("name")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    patient = factory.SubFactory(PatientFactory)
    clinic = factory.SelfAttribute("patient.clinic")
    external_id = factory.Sequence(lambda n: f"thread-{n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    clinic = factory.SelfAttribute("conversation.clinic")
    external_id = factory.Sequence(lambda n: f"msg-{n}")
    subject = "Question"
    body = "Can I move my appointment next week to the afternoon?"
    sent_at = factory.LazyFunction(timezone.now)
