import factory

from routing.models import Queue, RoutingRule
from tests.accounts.factories import ClinicFactory


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
