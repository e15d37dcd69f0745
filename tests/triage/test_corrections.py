"""Corrections from staff: "acuity was wrong" and "not an e-visit" through the API and the
services, what a correction does to the item (a raise moves it up, a lowering does not),
the second-person review, what reaches training, live accuracy per week computed by hand,
and the export for labelling review with and without message text."""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Group
from django.http import Http404
from rest_framework.test import APIClient

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from inbox.models import PatientDataAccess
from routing import work_items
from routing.corrections import correct_label
from routing.exceptions import InvalidTarget, OutsideScopeOfPractice
from routing.models import WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory, UserFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from tests.routing.factories import routed_item
from tests.triage.factories import ClassificationFactory, LabelCorrectionFactory
from triage import services
from triage.exceptions import CorrectionAlreadyReviewed, CorrectionRefused
from triage.models import Classification, LabelCorrection, ModelVersion
from triage.selectors import EXPORT_COLUMNS, corrections_for_training, live_accuracy

pytestmark = pytest.mark.django_db

Review = LabelCorrection.ReviewStatus
CORRECTIONS = "/admin/triage/labelcorrection/"


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def staff(clinic):
    return {role: StaffFactory(clinic=clinic, role=role) for role in Role.values}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def correct(user, item, **body):
    return api(user).post(f"/api/v1/work-items/{item.pk}/correct", body, format="json")


# --- marking a label wrong ---------------------------------------------------------------


def test_a_raised_acuity_moves_the_item_up_the_queue(clinic, staff):
    waiting_longer = routed_item(clinic, acuity="routine", level="nurse")
    raised = routed_item(clinic, acuity="routine", level="nurse")
    due_before = raised.due_at

    response = correct(
        staff["nurse"], raised, label="acuity", to="urgent", reason="chest pain on exertion"
    )

    assert response.status_code == 200
    assert response.json()["acuity"] == "urgent"
    raised.refresh_from_db()
    assert (raised.acuity, raised.acuity_rank) == ("urgent", 1)
    assert raised.due_at < due_before  # the urgent SLA from the message's arrival
    correction = LabelCorrection.objects.get()
    assert (correction.label, correction.from_value, correction.to_value) == (
        "acuity",
        "routine",
        "urgent",
    )
    assert (correction.corrected_by, correction.review_status) == (staff["nurse"], Review.PROPOSED)
    assert raised.events.filter(kind=WorkEvent.Kind.ESCALATED, actor=staff["nurse"]).exists()
    # The next item handed out is the raised one, not the one waiting longer.
    assert work_items.claim_next(actor=staff["physician"]).pk == raised.pk
    assert WorkItem.objects.get(pk=waiting_longer.pk).status == WorkItem.Status.OPEN


def test_a_lowered_acuity_is_recorded_but_the_item_keeps_its_place(clinic, staff):
    item = routed_item(clinic, acuity="urgent", level="nurse")
    before = WorkItem.objects.values("acuity", "acuity_rank", "due_at", "queue").get(pk=item.pk)

    correction, raised = correct_label(
        actor=staff["nurse"], item_id=item.pk, label="acuity", to="routine", reason="old rash"
    )

    assert not raised
    assert (correction.from_value, correction.to_value) == ("urgent", "routine")
    after = WorkItem.objects.values("acuity", "acuity_rank", "due_at", "queue").get(pk=item.pk)
    assert after == before


def test_raised_to_emergent_below_nurse_level_goes_to_nurse_triage(clinic, staff):
    item = routed_item(clinic, acuity="routine", level="ma")

    correct_label(
        actor=staff["ma"], item_id=item.pk, label="acuity", to="emergent", reason="can't breathe"
    )

    item.refresh_from_db()
    assert (item.acuity, item.service_level, item.queue.role) == ("emergent", "nurse", "nurse")


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_acuity_correction_needs_a_reason(clinic, staff, reason):
    item = routed_item(clinic, acuity="routine")

    response = correct(staff["nurse"], item, label="acuity", to="urgent", reason=reason)

    assert response.status_code == 400
    assert "why" in response.json()["detail"].lower()
    assert not LabelCorrection.objects.exists()
    assert WorkItem.objects.get(pk=item.pk).acuity == "routine"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"label": "acuity", "to": "routine", "reason": "x"}, "already said"),
        ({"label": "acuity", "to": "severe", "reason": "x"}, "choose the right acuity"),
        ({"label": "colour", "to": "red"}, "correct"),
        ({"label": "evisit", "to": "maybe"}, '"true" or "false"'),
    ],
)
def test_a_correction_that_says_nothing_new_is_refused(clinic, staff, body, detail):
    item = routed_item(clinic, acuity="routine")

    response = correct(staff["nurse"], item, **body)

    assert response.status_code == 400
    assert detail in response.json()["detail"].lower()
    assert not LabelCorrection.objects.exists()


def test_not_an_e_visit_through_the_api(clinic, staff):
    item = routed_item(clinic, acuity="routine")
    Classification.objects.filter(message=item.message).update(evisit_candidate=True)

    response = correct(staff["clerical"], item, label="evisit", to="false")

    assert response.status_code == 200
    correction = LabelCorrection.objects.get()
    assert (correction.label, correction.from_value, correction.to_value) == (
        "evisit_candidate",
        "true",
        "false",
    )
    # Twice is once: the second is told to confirm the first.
    assert correct(staff["ma"], item, label="evisit", to="false").status_code == 400
    assert LabelCorrection.objects.count() == 1


@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_billing_and_administrators_may_not_correct(clinic, staff, role):
    item = routed_item(clinic, acuity="routine")
    Classification.objects.filter(message=item.message).update(evisit_candidate=True)

    for body in (
        {"label": "acuity", "to": "urgent", "reason": "looks bad"},
        {"label": "evisit", "to": "false"},
    ):
        assert correct(staff[role], item, **body).status_code == 403

    assert not LabelCorrection.objects.exists()
    assert WorkItem.objects.get(pk=item.pk).acuity == "routine"


def test_another_clinics_staff_are_told_nothing_exists(clinic):
    item = routed_item(clinic, acuity="routine")
    outsider = StaffFactory(clinic=ClinicFactory(), role=Role.NURSE)

    response = correct(outsider, item, label="acuity", to="urgent", reason="x")

    assert response.status_code == 404
    assert not LabelCorrection.objects.exists()


# --- review: a second person, or an administrator ----------------------------------------


def test_a_colleague_confirms_but_the_author_may_not(clinic, staff):
    correction = LabelCorrectionFactory(
        message=routed_item(clinic).message, corrected_by=staff["nurse"]
    )

    with pytest.raises(CorrectionRefused):
        services.confirm_correction(actor=staff["nurse"], correction_id=correction.pk)
    correction.refresh_from_db()
    assert correction.review_status == Review.PROPOSED

    services.confirm_correction(actor=staff["ma"], correction_id=correction.pk)

    correction.refresh_from_db()
    assert (correction.review_status, correction.reviewed_by) == (Review.CONFIRMED, staff["ma"])
    assert correction.reviewed_at is not None
    with pytest.raises(CorrectionAlreadyReviewed):
        services.confirm_correction(actor=staff["physician"], correction_id=correction.pk)


@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_roles_that_read_no_threads_do_not_confirm(clinic, staff, role):
    correction = LabelCorrectionFactory(
        message=routed_item(clinic).message, corrected_by=staff["nurse"]
    )

    with pytest.raises(CorrectionRefused):
        services.confirm_correction(actor=staff[role], correction_id=correction.pk)
    assert LabelCorrection.objects.get().review_status == Review.PROPOSED


def test_another_clinics_correction_is_not_found(clinic, staff):
    other = ClinicFactory()
    correction = LabelCorrectionFactory(message=routed_item(other).message)

    with pytest.raises(Http404):
        services.confirm_correction(actor=staff["nurse"], correction_id=correction.pk)


def administrator_of(clinic):
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


def test_a_clinic_administrator_accepts_their_clinics_corrections_only(client, clinic, staff):
    ours = LabelCorrectionFactory(message=routed_item(clinic).message, corrected_by=staff["nurse"])
    theirs = LabelCorrectionFactory(message=routed_item(ClinicFactory()).message)
    client.force_login(administrator_of(clinic))

    listed = client.get(CORRECTIONS)
    response = client.post(
        CORRECTIONS, {"action": "accept", "_selected_action": [ours.pk, theirs.pk]}, follow=True
    )

    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [ours]
    assert response.status_code == 200
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.review_status == Review.ACCEPTED
    assert theirs.review_status == Review.PROPOSED


def test_a_superuser_rejects_even_a_confirmed_correction(client, clinic, staff):
    correction = LabelCorrectionFactory(
        message=routed_item(clinic).message,
        corrected_by=staff["nurse"],
        review_status=Review.CONFIRMED,
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    client.post(CORRECTIONS, {"action": "reject", "_selected_action": [correction.pk]})

    assert LabelCorrection.objects.get().review_status == Review.REJECTED


def test_only_reviewed_corrections_reach_training(clinic):
    by_status = {
        status: LabelCorrectionFactory(
            message=MessageFactory(subject=f"s-{status}", body=f"b-{status}"),
            review_status=status,
        )
        for status in Review.values
    }

    used = list(corrections_for_training())

    assert [c.pk for c in used] == [by_status[Review.CONFIRMED].pk, by_status[Review.ACCEPTED].pk]
    assert [(c.message.subject, c.message.body) for c in used] == [
        ("s-confirmed", "b-confirmed"),
        ("s-accepted", "b-accepted"),
    ]


# --- live accuracy -------------------------------------------------------------------------

NOW = datetime.datetime(2026, 11, 18, 12, 0, tzinfo=datetime.UTC)  # a Wednesday, ISO week 47


def a_version(name: str) -> ModelVersion:
    return ModelVersion.objects.create(
        name=name, artifact=b"", sha256="0" * 64, training_data_hash="0" * 64
    )


def classified_at(version, at: datetime.datetime) -> Classification:
    row = ClassificationFactory(model_version=version)
    Classification.objects.filter(pk=row.pk).update(created_at=at)
    return row


def corrected(row, label: str, status=Review.PROPOSED):
    LabelCorrectionFactory(message=row.message, label=label, review_status=status)


def test_live_accuracy_per_week_by_hand():
    version, other = a_version("live"), a_version("other")
    at = lambda *args: datetime.datetime(*args, tzinfo=datetime.UTC)  # noqa: E731
    # ISO week 45 (Mon 2 Nov - Sun 8 Nov): four messages, the last one on Sunday night.
    m1, m2, m3, m4 = (
        classified_at(version, at(2026, 11, 2, 0, 5)),
        classified_at(version, at(2026, 11, 4, 9, 0)),
        classified_at(version, at(2026, 11, 6, 15, 0)),
        classified_at(version, at(2026, 11, 8, 23, 55)),
    )
    corrected(m1, "acuity")
    corrected(m1, "acuity", Review.CONFIRMED)  # one message corrected twice counts once
    corrected(m4, "acuity", Review.ACCEPTED)
    corrected(m2, "service_level", Review.CONFIRMED)
    corrected(m2, "acuity", Review.REJECTED)  # a reviewer said the model was right
    corrected(m3, "evisit_candidate")
    # ISO week 46: one message, Monday just after midnight, nobody corrected it.
    classified_at(version, at(2026, 11, 9, 0, 5))
    # ISO week 47: two messages, one with its acuity corrected.
    m6 = classified_at(version, at(2026, 11, 16, 8, 0))
    classified_at(version, at(2026, 11, 18, 11, 0))
    corrected(m6, "acuity")
    # Not this version's, or older than twelve weeks: not counted.
    corrected(classified_at(other, at(2026, 11, 4, 9, 0)), "acuity")
    corrected(classified_at(version, at(2026, 7, 1, 9, 0)), "acuity")

    weeks = live_accuracy(version=version, now=NOW)

    table = [
        (w["iso_week"], w["classified"], [(x["label"], x["corrected"]) for x in w["labels"]])
        for w in weeks
    ]
    assert table == [
        ("2026-W47", 2, [("acuity", 1), ("service_level", 0), ("evisit_candidate", 0)]),
        ("2026-W46", 1, [("acuity", 0), ("service_level", 0), ("evisit_candidate", 0)]),
        ("2026-W45", 4, [("acuity", 2), ("service_level", 1), ("evisit_candidate", 1)]),
    ]
    shares = [[x["share_uncorrected"] for x in w["labels"]] for w in weeks]
    assert shares == [[50.0, 100.0, 100.0], [100.0, 100.0, 100.0], [50.0, 75.0, 75.0]]


def test_the_version_page_shows_live_accuracy(client):
    version = a_version("on-page")
    rows = [ClassificationFactory(model_version=version) for _ in range(4)]
    corrected(rows[0], "acuity")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/triage/modelversion/{version.pk}/change/")

    assert page.status_code == 200
    assert "data-live-accuracy" in page.text
    assert "75.0% (1 corrected)" in page.text
    assert page.text.count("100.0% (0 corrected)") == 2


# --- export for labelling review ---------------------------------------------------------


@pytest.fixture
def two_corrections(clinic, staff):
    patients = [PatientFactory(clinic=clinic, name=n) for n in ("Ada Quill", "Ben Rook")]
    return [
        LabelCorrectionFactory(
            message=MessageFactory(
                conversation=ConversationFactory(patient=patient),
                subject=f"Question {patient.pk}",
                body=f"Secret words of {patient.name}",
            ),
            corrected_by=staff["nurse"],
            reason=reason,
        )
        for patient, reason in zip(patients, ["=HYPERLINK(1)", "fever for a week"], strict=True)
    ]


def export(client, corrections, **extra):
    ids = [c.pk for c in corrections]
    return client.post(
        CORRECTIONS, {"action": "export_for_review", "_selected_action": ids, **extra}
    )


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_export_asks_first_and_without_the_choice_carries_no_text(client, two_corrections):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    asked = export(client, two_corrections)
    plain = export(client, two_corrections, confirmed="yes")

    assert asked.status_code == 200
    assert 'name="include_text"' in asked.text
    assert "Secret words" not in asked.text
    assert plain["Content-Type"].startswith("text/csv")
    rows = rows_of(plain)
    assert list(rows[0]) == EXPORT_COLUMNS
    assert [int(r["correction_id"]) for r in rows] == [c.pk for c in two_corrections]
    assert rows[0]["reason"] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet
    assert "Secret words" not in plain.content.decode()
    assert not PatientDataAccess.objects.exists()


def test_the_export_with_text_is_written_to_the_access_log(client, two_corrections):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)

    response = export(client, two_corrections, confirmed="yes", include_text="yes")

    rows = rows_of(response)
    assert [r["body"] for r in rows] == ["Secret words of Ada Quill", "Secret words of Ben Rook"]
    logged = PatientDataAccess.objects.order_by("object_id")
    assert [(a.user, a.what, a.object_id) for a in logged] == [
        (superuser, PatientDataAccess.What.ADMIN_CORRECTIONS_EXPORT, c.pk) for c in two_corrections
    ]
    assert {a.patient.name for a in logged} == {"Ada Quill", "Ben Rook"}


def test_a_clinic_administrator_exports_no_message_text(client, clinic, two_corrections):
    client.force_login(administrator_of(clinic))

    asked = export(client, two_corrections)
    refused = export(client, two_corrections, confirmed="yes", include_text="yes")
    plain = export(client, two_corrections, confirmed="yes")

    assert 'name="include_text"' not in asked.text
    assert refused.status_code == 403
    assert "Secret words" not in plain.content.decode()
    assert len(rows_of(plain)) == 2
    assert not PatientDataAccess.objects.exists()


def test_refused_corrections_change_nothing_on_the_item(clinic, staff):
    item = routed_item(clinic, acuity="routine")

    with pytest.raises(OutsideScopeOfPractice):
        correct_label(
            actor=staff["billing"], item_id=item.pk, label="acuity", to="emergent", reason="x"
        )
    with pytest.raises(InvalidTarget):
        correct_label(actor=staff["nurse"], item_id=item.pk, label="acuity", to="urgent")

    assert WorkItem.objects.get(pk=item.pk).acuity == "routine"
    assert not LabelCorrection.objects.exists()
