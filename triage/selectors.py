import csv
import datetime
import io

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncWeek

from accounts.models import User
from inbox.audit import record_patient_data_accesses
from inbox.models import PatientDataAccess
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


# --- corrections from staff ---------------------------------------------------------------


def corrections_for_training() -> QuerySet[LabelCorrection]:
    """Corrections a model may learn from: confirmed by a second clinical staff member or
    accepted by an administrator. Proposed and rejected ones never reach training. The
    message (subject, body) comes with each row, so the trainer reads it without a query
    per correction."""
    return (
        LabelCorrection.objects.filter(
            review_status__in=[
                LabelCorrection.ReviewStatus.CONFIRMED,
                LabelCorrection.ReviewStatus.ACCEPTED,
            ]
        )
        .select_related("message")
        .order_by("id")
    )


def corrections_of_conversation(*, conversation_id: int) -> QuerySet[LabelCorrection]:
    """The label corrections of a conversation's messages, newest first, for its work
    item's page (the caller has checked the person may read the thread)."""
    return (
        LabelCorrection.objects.filter(message__conversation_id=conversation_id)
        .select_related("corrected_by", "reviewed_by")
        .order_by("-created_at", "-id")
    )


# --- live accuracy: what staff did not correct ----------------------------------------------

LIVE_ACCURACY_WEEKS = 12
LIVE_ACCURACY_LABELS = (
    LabelCorrection.Label.ACUITY,
    LabelCorrection.Label.SERVICE_LEVEL,
    LabelCorrection.Label.EVISIT_CANDIDATE,
)


def live_accuracy(
    *, version: ModelVersion, now: datetime.datetime, weeks: int = LIVE_ACCURACY_WEEKS
) -> list[dict]:
    """Per ISO week (Monday, UTC) of classification, newest first, over the last `weeks`
    weeks: how many messages this version classified and, per label, the share nobody
    corrected. A rejected correction does not count (a reviewer said the model was
    right); a proposed one does (a clinician said it was wrong; most are never
    reviewed). One SQL query: a GROUP BY week with one conditional count per label."""
    since = now - datetime.timedelta(weeks=weeks)
    counted = LabelCorrection.objects.filter(message_id=OuterRef("message_id")).exclude(
        review_status=LabelCorrection.ReviewStatus.REJECTED
    )
    corrected = {
        label: Count("id", filter=Q(Exists(counted.filter(label=label))))
        for label in LIVE_ACCURACY_LABELS
    }
    rows = (
        Classification.objects.filter(
            model_version=version, unclassified=False, created_at__gte=since
        )
        .annotate(week=TruncWeek("created_at", tzinfo=datetime.UTC))
        .values("week")
        .annotate(classified=Count("id"), **corrected)
        .order_by("-week")
    )
    result = []
    for row in rows:
        week = row["week"].date() if isinstance(row["week"], datetime.datetime) else row["week"]
        year, number, _ = week.isocalendar()
        n = row["classified"]
        result.append(
            {
                "week": week,
                "iso_week": f"{year}-W{number:02d}",
                "classified": n,
                "labels": [
                    {
                        "label": label,
                        "corrected": row[label],
                        "share_uncorrected": 100.0 * (n - row[label]) / n,
                    }
                    for label in LIVE_ACCURACY_LABELS
                ],
            }
        )
    return result


# --- export for labelling review ----------------------------------------------------------

EXPORT_COLUMNS = [
    "correction_id",
    "message_id",
    "label",
    "from_value",
    "to_value",
    "reason",
    "corrected_at",
    "review_status",
    "reviewed_at",
    "model_version",
]
EXPORT_TEXT_COLUMNS = ["subject", "body"]


def corrections_export(
    *, user: User, corrections: QuerySet[LabelCorrection], include_text: bool
) -> str:
    """The CSV of corrections for labelling review: ids, labels, from/to, reasons and
    dates; the message text only with `include_text` (an administrator's explicit choice),
    and then each patient whose text leaves is written to the access log. The caller
    scoped `corrections` to what the person may export."""
    rows = list(
        corrections.select_related(
            "message__conversation__patient", "message__classification__model_version"
        ).order_by("id")
    )
    columns = EXPORT_COLUMNS + (EXPORT_TEXT_COLUMNS if include_text else [])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for c in rows:
        classification = getattr(c.message, "classification", None)
        row = {
            "correction_id": c.pk,
            "message_id": c.message_id,
            "label": c.label,
            "from_value": c.from_value,
            "to_value": c.to_value,
            "reason": c.reason,
            "corrected_at": c.created_at.isoformat(),
            "review_status": c.review_status,
            "reviewed_at": c.reviewed_at.isoformat() if c.reviewed_at else "",
            "model_version": getattr(classification.model_version, "name", "")
            if classification
            else "",
        }
        if include_text:
            row |= {"subject": c.message.subject, "body": c.message.body}
        # A leading =, +, - or @ would be run as a formula by spreadsheet programs.
        writer.writerow({k: _spreadsheet_safe(v) for k, v in row.items()})
    if include_text:
        record_patient_data_accesses(
            user=user,
            what=PatientDataAccess.What.ADMIN_CORRECTIONS_EXPORT,
            shown=[(c.message.conversation.patient, c.pk) for c in rows],
        )
    return buffer.getvalue()


def _spreadsheet_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
