import datetime

from django.db.models import Count, QuerySet

from triage.models import Classification, LabelCorrection, ModelVersion

# --- how a model version does in the clinics --------------------------------------------

RECENT_DAYS = 7
BASELINE_DAYS = 28
# A label's share moving by more than this many points between the two windows is shown
# as a shift worth a look (the mix of messages changed, or the model sees them differently).
SHIFT_POINTS = 10.0
# Fewer messages than this in a window are too few to compare shares.
MIN_MESSAGES_TO_COMPARE = 50


def _shares(classified: QuerySet, field: str) -> tuple[int, dict[str, float]]:
    counts = dict(classified.values_list(field).annotate(n=Count("id")).values_list(field, "n"))
    total = sum(counts.values())
    return total, {value: 100.0 * n / total for value, n in counts.items()} if total else {}


def model_version_usage(*, version: ModelVersion, now: datetime.datetime) -> dict:
    """What a model version did in the clinics: messages it classified, how often staff
    moved one to another role (the corrections that also feed training), and how the
    share of each label moved between the last week and the four weeks before (drift).
    Counts only: no message text."""
    classified = Classification.objects.filter(model_version=version)
    recent_since = now - datetime.timedelta(days=RECENT_DAYS)
    baseline_since = recent_since - datetime.timedelta(days=BASELINE_DAYS)
    recent = classified.filter(created_at__gte=recent_since)
    baseline = classified.filter(created_at__gte=baseline_since, created_at__lt=recent_since)

    drift = []
    for field in ("acuity", "service_level", "needs_review"):
        recent_n, recent_shares = _shares(recent, field)
        baseline_n, baseline_shares = _shares(baseline, field)
        comparable = min(recent_n, baseline_n) >= MIN_MESSAGES_TO_COMPARE
        for value in sorted(set(recent_shares) | set(baseline_shares), key=str):
            shift = recent_shares.get(value, 0.0) - baseline_shares.get(value, 0.0)
            drift.append(
                {
                    "label": field.replace("_", " "),
                    "value": str(value).lower() if field == "needs_review" else value,
                    "recent": recent_shares.get(value, 0.0),
                    "baseline": baseline_shares.get(value, 0.0),
                    "shift": shift if comparable else None,
                    "flag": comparable and abs(shift) > SHIFT_POINTS,
                }
            )

    corrections = LabelCorrection.objects.filter(message__classification__model_version=version)
    total = classified.count()
    corrected = corrections.values("message_id").distinct().count()
    return {
        "classified": total,
        "recent": recent.count(),
        "baseline": baseline.count(),
        "recent_days": RECENT_DAYS,
        "baseline_days": BASELINE_DAYS,
        "min_to_compare": MIN_MESSAGES_TO_COMPARE,
        "shift_points": SHIFT_POINTS,
        "drift": drift,
        "corrected_messages": corrected,
        "kept_share": 100.0 * (total - corrected) / total if total else None,
        "corrections": list(
            corrections.values("label", "from_value", "to_value")
            .annotate(messages=Count("id"))
            .order_by("-messages", "label", "from_value", "to_value")[:10]
        ),
    }
