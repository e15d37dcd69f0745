"""A change to a clinic's routing configuration gives the clinic a new configuration
version in the same transaction (accounts.configuration), however it is made: the
admin, the API, a service or a data fix through the ORM. Queryset .update() sends no
signal; nothing in the code updates these models that way (see tests)."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.configuration import configuration_changed
from accounts.models import Clinic, new_configuration_version
from routing.models import (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    Queue,
    RoutingRule,
    SlaPolicy,
    WebhookSubscription,
)

CONFIGURATION_MODELS = (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    Queue,
    RoutingRule,
    SlaPolicy,
    WebhookSubscription,
)


def _clinic_configuration_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):  # loaddata: the fixture's clinic rows carry their own version
        return
    configuration_changed(clinic_id=instance.clinic_id)


for model in CONFIGURATION_MODELS:
    post_save.connect(
        _clinic_configuration_changed, sender=model, dispatch_uid=f"config-{model.__name__}"
    )
    post_delete.connect(
        _clinic_configuration_changed, sender=model, dispatch_uid=f"config-del-{model.__name__}"
    )


@receiver(pre_save, sender=Clinic, dispatch_uid="config-Clinic")
def _clinic_saved(sender, instance: Clinic, **kwargs) -> None:
    # Its time zone is part of the business calendar a worker keeps.
    if not kwargs.get("raw"):
        instance.configuration_version = new_configuration_version()
