"""The summary of a bulk action (routing.bulk): each item with its patient's name, what was
done or why not. The names are patient data, so the patients shown are written to the
access log here, as a queue page's are."""

from dataclasses import dataclass

from accounts.models import Clinic, User
from inbox.audit import record_patient_data_accesses
from routing.bulk import Outcome
from routing.models import WorkItem


@dataclass(frozen=True)
class SummaryLine:
    item_id: int
    # None for an item not found among the clinic's: nothing of it is shown.
    patient: str | None
    done: bool
    detail: str

    def __str__(self) -> str:
        who = f" ({self.patient})" if self.patient is not None else ""
        return f"Item {self.item_id}{who}: {self.detail}"


def bulk_summary(
    *, user: User, clinic: Clinic, outcomes: list[Outcome], viewed_as: str
) -> list[SummaryLine]:
    """One line per outcome, in order, naming the patient of each item of `clinic`; those
    patients are logged as `viewed_as` (one row per patient)."""
    items = {
        item.pk: item
        for item in WorkItem.objects.filter(
            pk__in=[o.item_id for o in outcomes], clinic=clinic
        ).select_related("conversation__patient")
    }
    lines, shown = [], []
    for outcome in outcomes:
        item = items.get(outcome.item_id)
        patient = item.conversation.patient if item is not None else None
        if patient is not None:
            shown.append((patient, item.pk))
        lines.append(
            SummaryLine(
                item_id=outcome.item_id,
                patient=(patient.name or "Patient") if patient is not None else None,
                done=outcome.done,
                detail=outcome.detail,
            )
        )
    record_patient_data_accesses(user=user, what=viewed_as, shown=shown)
    return lines
