"""The access log seam: who was shown which patient's data, and when. Selectors that load
patient data for a person call this themselves (inbox.selectors, routing.selectors,
billing.selectors, the admin's PatientDataAccessLogged), so a view cannot forget it: the
caller says what it shows (`viewed_as`, a PatientDataAccess.What). Nothing else calls it;
tests/inbox/test_access_log_walk.py walks every URL that shows a patient to hold that."""

from collections.abc import Iterable

from accounts.models import User
from inbox.models import Patient, PatientDataAccess


def record_patient_data_access(
    *, user: User, patient: Patient, what: str, object_id: int
) -> PatientDataAccess:
    """A page about one patient: a message thread, an e-visit record, a delivered reply."""
    (access,) = record_patient_data_accesses(user=user, what=what, shown=[(patient, object_id)])
    return access


def record_patient_data_accesses(
    *, user: User, what: str, shown: Iterable[tuple[Patient, int]]
) -> list[PatientDataAccess]:
    """The access log of a list page, an API page or an export: one row per patient, in
    one INSERT. `shown` is what the response really contains (after filtering and
    paging), in its order, as (patient, object_id) per item. A patient with several
    items on the page gets one row whose object_id is their first item: the one the
    privacy officer opens first, and it leads to the patient's others."""
    rows: dict[int, PatientDataAccess] = {}
    for patient, object_id in shown:
        if patient.pk not in rows:
            rows[patient.pk] = PatientDataAccess(
                clinic_id=patient.clinic_id,
                patient_id=patient.pk,
                user=user,
                what=what,
                object_id=object_id,
            )
    if not rows:
        return []
    return PatientDataAccess.objects.bulk_create(rows.values())
