"""A model registered, activated or put in shadow changes what classifies every
clinic's messages: every clinic gets a new configuration version in the same
transaction (accounts.configuration). Activation by queryset update calls
configuration_changed itself (model_registry.activate_model_version)."""

from django.db.models.signals import post_delete, post_save

from accounts.configuration import configuration_changed
from triage.models import ModelVersion, ShadowPeriod


def _models_changed(sender, instance, **kwargs) -> None:
    if not kwargs.get("raw"):
        configuration_changed(clinic_id=None)


for model in (ModelVersion, ShadowPeriod):
    post_save.connect(_models_changed, sender=model, dispatch_uid=f"config-{model.__name__}")
    post_delete.connect(_models_changed, sender=model, dispatch_uid=f"config-del-{model.__name__}")
