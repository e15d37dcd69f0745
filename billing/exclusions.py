"""Plain words for why an e-visit is not billed or not approved. The one place that names
the exclusion codes of billing/cpt.py (and the revenue report's own "rejected" and
"needs_consent") for people: the e-visit list and detail, the review's refusals, the
revenue report. The codes stay the stored and API form; cpt.REASON_TEXT holds the longer
explanation shown on an e-visit's page."""

import re

from billing import cpt
from billing.models import EVisit

EXCLUSION_LABELS: dict[str, str] = {
    "no_clinician_time": "No clinician time logged",
    "rn_ma_time_only": "Only nurse, MA or staff time (it does not count)",
    "under_5_minutes": "Under 5 minutes of clinician time",
    "not_patient_initiated": "Not started by the patient",
    "new_patient": "Not an established patient",
    "no_consent": "No cost-share consent from the patient",
    "em_visit_prior_7_days": "Part of an office visit in the previous 7 days",
    "visit_within_next_7_days": "Led to an office visit within 7 days",
    "global_period": "In a surgical global period for the same problem",
    "already_billed_in_window": "An e-visit was already billed in this 7-day period",
    # Revenue report only: missed for a reason that is not a rule.
    "rejected": "Rejected by a billing reviewer",
    "needs_consent": "Waiting for the patient's cost-share consent",
}


def exclusion_label(code: str) -> str:
    """The readable name of an exclusion code; an unknown code is still made readable
    rather than shown raw."""
    return EXCLUSION_LABELS.get(code) or code.replace("_", " ").capitalize()


def exclusion_text(code: str) -> str:
    """The longer explanation (cpt.REASON_TEXT), else the readable name."""
    return cpt.REASON_TEXT.get(code) or exclusion_label(code)


_FAILED_LINE = re.compile(r"^NOT OK \((\w+)\): ")


def readable_explanation(line: str) -> str:
    """A line of cpt's explanation ("NOT OK (no_consent): ...") with the code named:
    "Not OK (No cost-share consent from the patient): ..."."""
    return _FAILED_LINE.sub(lambda m: f"Not OK ({exclusion_label(m.group(1))}): ", line)


def approval_refusal(evisit: EVisit) -> str | None:
    """Why `approve` leaves this e-visit as it is, in plain words; None when it may be
    approved."""
    status = evisit.status
    if status == EVisit.Status.APPROVED:
        return "It is already approved."
    if status == EVisit.Status.EXPORTED:
        return "It is already on an exported claims file."
    if status == EVisit.Status.REJECTED:
        return "It was rejected; a rejected e-visit is not approved again."
    if evisit.reasons or evisit.needs_consent:
        codes = evisit.reasons or ["no_consent"]
        return "Not billable: " + "; ".join(exclusion_label(code) for code in codes) + "."
    if status not in (EVisit.Status.CANDIDATE, EVisit.Status.READY):
        return f"Its status is {evisit.get_status_display().lower()}."
    return None


def rejection_refusal(evisit: EVisit) -> str | None:
    """Why `reject` leaves this e-visit as it is; None when it may be rejected."""
    if evisit.status == EVisit.Status.EXPORTED:
        return "It is already on an exported claims file; correct it with the payer."
    if evisit.status == EVisit.Status.REJECTED:
        return "It is already rejected."
    return None


def describe_evisit(evisit: EVisit) -> str:
    """An e-visit named without patient data (a notice may outlive the page): its number,
    code and date of service."""
    details = [evisit.code or "no code"]
    if evisit.service_date:
        details.append(f"service date {evisit.service_date:%Y-%m-%d}")
    return f"E-visit {evisit.pk} ({', '.join(details)})"
