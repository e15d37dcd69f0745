"""What the SLA policy admin shows beside the clinic's own rows: the built-in targets
(routing/sla.py DEFAULT_SLA_RULES, docs/domain.md) and, per clinic, the target that
applies to each acuity and role and where it comes from. A clinic with no SLA policy rows
uses the built-in targets; the list used to say "0 SLA policies" and nothing else."""

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import Clinic
from routing import sla
from routing.models import SlaPolicy
from triage.ml.labels import Acuity, ServiceLevel


@dataclass(frozen=True)
class EffectiveTarget:
    acuity: str
    role: str
    target: sla.SlaTarget
    override: SlaPolicy | None  # None: the built-in default applies

    @property
    def acuity_label(self) -> str:
        return Acuity(self.acuity).label

    @property
    def role_label(self) -> str:
        return ServiceLevel(self.role).label

    @property
    def source(self) -> str:
        if self.override is None:
            return "Built-in default"
        who = "this role" if self.override.role else "any role"
        return f"This clinic's policy ({who})"


@dataclass(frozen=True)
class ClinicTargets:
    clinic: Clinic
    targets: list[EffectiveTarget]

    @property
    def overrides(self) -> int:
        return len({t.override.pk for t in self.targets if t.override is not None})


def built_in_targets() -> list[dict]:
    return [
        {
            "acuity": Acuity(rule.acuity).label,
            "role": ServiceLevel(rule.role).label if rule.role else "Any role",
            "target": rule.target.describe(),
        }
        for rule in sla.DEFAULT_SLA_RULES
    ]


def _effective(acuity: str, role: str, policies: list[SlaPolicy]) -> EffectiveTarget:
    # The order sla.pick_target uses: the clinic's role rule, its acuity-wide rule, then
    # the built-in role rule and acuity-wide rule.
    for policy in policies:
        if policy.acuity == acuity and policy.role == role:
            return EffectiveTarget(acuity, role, _target(policy), policy)
    for policy in policies:
        if policy.acuity == acuity and not policy.role:
            return EffectiveTarget(acuity, role, _target(policy), policy)
    return EffectiveTarget(acuity, role, sla.pick_target(acuity=acuity, role=role, rules=()), None)


def _target(policy: SlaPolicy) -> sla.SlaTarget:
    return sla.SlaTarget(sla.Clock(policy.clock), policy.amount)


def effective_targets(*, clinics: QuerySet[Clinic]) -> list[ClinicTargets]:
    """Per clinic, the target of every acuity and role, and whether the clinic set it."""
    policies: dict[int, list[SlaPolicy]] = {}
    for policy in SlaPolicy.objects.filter(clinic__in=clinics).order_by("pk"):
        policies.setdefault(policy.clinic_id, []).append(policy)
    return [
        ClinicTargets(
            clinic=clinic,
            targets=[
                _effective(acuity, role, policies.get(clinic.pk, []))
                for acuity in Acuity.values
                for role in ServiceLevel.values
            ],
        )
        for clinic in clinics.order_by("name")
    ]
