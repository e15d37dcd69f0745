"""A candidate in shadow: for a chosen number of days it classifies every message beside
the active model, and routing never reads what it says. The version page compares the two
(agreement per label, disagreements by label pair, and both against the corrections staff
made meanwhile) before a superuser promotes it."""

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from rest_framework import status

from accounts.configuration import AcrossClinicsCache
from accounts.models import Clinic, User
from config.errors import DomainError
from inbox.models import Message
from triage.ml.decision import classify_items
from triage.ml.retraining import CORRECTED_LABELS, corrected_value
from triage.ml.types import TriageInput
from triage.model_registry import shadow_model
from triage.models import (
    Classification,
    LabelCorrection,
    ModelVersion,
    ShadowClassification,
    ShadowPeriod,
)

logger = logging.getLogger(__name__)

MAX_SHADOW_DAYS = 60
SAMPLE_SIZE = 10


class ShadowRefused(DomainError):
    http_status = status.HTTP_409_CONFLICT
    code = "shadow_refused"


# --- writes ----------------------------------------------------------------------------


def start_shadow(
    *, version_id: int, days: int, actor: User | None, now: datetime.datetime | None = None
) -> ShadowPeriod:
    """Put a stored, inactive version in shadow for `days` days. One shadow at a time: a
    period past its end is closed here (it ended by itself), an open one refuses."""
    if not 1 <= days <= MAX_SHADOW_DAYS:
        raise ShadowRefused(f"A shadow lasts 1 to {MAX_SHADOW_DAYS} days.")
    now = now or timezone.now()
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        if version.is_active:
            raise ShadowRefused("The active model cannot be in shadow beside itself.")
        ShadowPeriod.objects.filter(is_open=True, ends_at__lte=now).update(
            is_open=False, ended_at=F("ends_at")
        )
        current = ShadowPeriod.objects.filter(is_open=True).select_related("model_version").first()
        if current is not None:
            raise ShadowRefused(
                f"{current.model_version} is in shadow until {current.ends_at:%Y-%m-%d %H:%M}; "
                "promote it or wait for its end."
            )
        try:
            # The one-open constraint decides between two starts at the same moment.
            with transaction.atomic():
                return ShadowPeriod.objects.create(
                    model_version=version,
                    started_at=now,
                    ends_at=now + datetime.timedelta(days=days),
                    started_by=actor,
                )
        except IntegrityError as exc:
            raise ShadowRefused("Another version was put in shadow at the same moment.") from exc


def classify_in_shadow(
    *, message_id: int, clinic: Clinic | None = None
) -> ShadowClassification | None:
    """The candidate in shadow classifies a message the active model classified, after it
    was routed (classify_and_route). Whatever goes wrong here is logged and ignored: the
    message is routed already, and a shadow must never cost a patient anything."""
    try:
        return _classify_in_shadow(message_id, now=timezone.now(), clinic=clinic)
    except Exception:
        logger.exception("the model in shadow failed on message %s; ignored", message_id)
        return None


def _classify_in_shadow(
    message_id: int, *, now: datetime.datetime, clinic: Clinic | None
) -> ShadowClassification | None:
    period = current_shadow(now=now, clinics=[clinic] if clinic is not None else [])
    if period is None:
        return None
    classification = (
        Classification.objects.select_related("message__conversation__patient")
        .filter(message_id=message_id, created_at__gte=period.started_at)
        .exclude(model_version=None)
        .exclude(model_version_id=period.model_version_id)
        .first()
    )
    if classification is None:
        # Unclassified (no model), or classified before the shadow began (a redelivery).
        return None
    message = classification.message
    item = TriageInput(
        subject=message.subject,
        body=message.body,
        on_chemotherapy=message.conversation.patient.on_chemotherapy,
    )
    [(prediction, _hits)] = classify_items(shadow_model(period.model_version), [item])
    shadow, _ = ShadowClassification.objects.get_or_create(
        message_id=message_id,
        model_version_id=period.model_version_id,
        defaults={
            "acuity": prediction.acuity,
            "service_level": prediction.service_level,
            "evisit_candidate": prediction.evisit_candidate,
            "confidences": {
                "acuity": prediction.acuity_confidence,
                "service_level": prediction.service_level_confidence,
                "evisit_candidate": prediction.evisit_confidence,
            },
        },
    )
    return shadow


# --- reads -----------------------------------------------------------------------------


def _open_shadow() -> ShadowPeriod | None:
    # Not the artifact (tens of MB): shadow_model reads it once per version and process.
    return (
        ShadowPeriod.objects.select_related("model_version")
        .defer("model_version__artifact")
        .filter(is_open=True)
        .first()
    )


# The open period, kept between messages while their clinics' configuration versions say
# no period was started or ended since (accounts.configuration).
_open_shadow_period = AcrossClinicsCache(_open_shadow)


def current_shadow(
    *, now: datetime.datetime, clinics: Iterable[Clinic] = ()
) -> ShadowPeriod | None:
    """The shadow period running now: open and not past its end (it ends by itself).
    `clinics`: read with the message at hand; their versions tell whether the period
    this process knows is still the open one."""
    clinics = list(clinics)
    period = _open_shadow_period.get(clinics) if clinics else _open_shadow()
    if period is None or not (period.started_at <= now < period.ends_at):
        return None
    return period


def period_end(period: ShadowPeriod, *, now: datetime.datetime) -> datetime.datetime:
    return period.ended_at or min(period.ends_at, now)


def shadow_report(*, version: ModelVersion, now: datetime.datetime) -> dict | None:
    """The version's latest shadow period against the active model of each message:
    agreement per label, disagreements by (active, shadow) pair, a sample of disagreeing
    messages by id (the page links their audited work item pages; no text here), and
    both models against the corrections staff made during the period. Counts by SQL."""
    period = version.shadow_periods.order_by("-started_at").first()
    if period is None:
        return None
    end = period_end(period, now=now)
    shadows = ShadowClassification.objects.filter(
        model_version=version, created_at__gte=period.started_at, created_at__lte=end
    )
    agreement, disagreements = [], []
    for label in CORRECTED_LABELS:
        pairs = (
            shadows.values(active=F(f"message__classification__{label}"), shadow=F(label))
            .annotate(messages=Count("id"))
            .order_by()
        )
        total = agreed = 0
        for pair in pairs:
            total += pair["messages"]
            if pair["active"] == pair["shadow"]:
                agreed += pair["messages"]
            else:
                disagreements.append({"label": label, **pair})
        agreement.append(
            {
                "label": label,
                "messages": total,
                "agreed": agreed,
                "share": 100.0 * agreed / total if total else None,
            }
        )
    disagreements.sort(key=lambda d: (-d["messages"], d["label"], str(d["active"])))
    return {
        "period": period,
        "running": period.is_open and period.started_at <= now < period.ends_at,
        "end": end,
        "classified": shadows.count(),
        "agreement": agreement,
        "disagreements": disagreements,
        "sample": _disagreeing_sample(shadows),
        "corrections": _against_corrections(version, period.started_at, end),
    }


def _disagreeing_sample(shadows) -> list[dict]:
    differs = Q()
    for label in CORRECTED_LABELS:
        differs |= ~Q(**{label: F(f"message__classification__{label}")})
    message_ids = list(
        shadows.filter(differs)
        .order_by("-created_at")
        .values_list("message_id", flat=True)[:SAMPLE_SIZE]
    )
    # The message's work items (routing sits above triage: the reverse relation, not its
    # model); the newest one is the page to open.
    work_items: dict[int, int] = {}
    for message_id, item_id in Message.objects.filter(pk__in=message_ids).values_list(
        "pk", "work_items__id"
    ):
        if item_id is not None:
            work_items[message_id] = max(item_id, work_items.get(message_id, 0))
    return [{"message_id": m, "work_item_id": work_items.get(m)} for m in message_ids]


def _against_corrections(version: ModelVersion, start, end) -> dict:
    """Of the corrections made during the period (rejected ones aside: a reviewer said the
    model was right) on messages the shadow classified: how many labels each model had as
    staff corrected them. The active model's stored labels are what staff saw."""
    corrections = list(
        LabelCorrection.objects.filter(
            created_at__gte=start,
            created_at__lte=end,
            label__in=CORRECTED_LABELS,
            message__shadow_classifications__model_version=version,
        )
        .exclude(review_status=LabelCorrection.ReviewStatus.REJECTED)
        .order_by("id")
        .values("message_id", "label", "to_value")
    )
    # The latest correction of a label on a message is the staff's answer.
    wanted = {(c["message_id"], c["label"]): c["to_value"] for c in corrections}
    message_ids = {m for m, _ in wanted}
    active = {
        row["message_id"]: row
        for row in Classification.objects.filter(message_id__in=message_ids).values(
            "message_id", *CORRECTED_LABELS
        )
    }
    shadow = {
        row["message_id"]: row
        for row in ShadowClassification.objects.filter(
            model_version=version, message_id__in=message_ids
        ).values("message_id", *CORRECTED_LABELS)
    }
    per_label: dict[str, dict] = defaultdict(lambda: {"corrected": 0, "active": 0, "shadow": 0})
    for (message_id, label), to_value in wanted.items():
        value = corrected_value(label, to_value)
        counts = per_label[label]
        counts["corrected"] += 1
        counts["active"] += active.get(message_id, {}).get(label) == value
        counts["shadow"] += shadow[message_id][label] == value
    rows = [
        {"label": label, **per_label[label]} for label in CORRECTED_LABELS if label in per_label
    ]
    total = {key: sum(r[key] for r in rows) for key in ("corrected", "active", "shadow")}
    return {"labels": rows, "total": total}
