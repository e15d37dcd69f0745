"""routing.search: what a search finds, what the filters keep, who may search, and the
access log of what a result page shows. Runs on PostgreSQL (full-text, the GIN index)
and on SQLite (contains)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import search, work_items
from routing.exceptions import OutsideScopeOfPractice
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db
SHOWN = PatientDataAccess.What.SEARCH_RESULTS


def found(user, clinic, role=Role.NURSE, **params) -> list[WorkItem]:
    return search.search_work_items(
        user=user,
        clinic=clinic,
        role=role,
        filters=search.parse_filters(params),
        now=timezone.now(),
        viewed_as=SHOWN,
    )


def item_for(clinic, *, name="Ana Lopez", mrn=None, language="en", **kwargs) -> WorkItem:
    patient = PatientFactory(clinic=clinic, name=name, preferred_language=language)
    if mrn:
        patient.mrn = mrn
        patient.save()
    return routed_item(clinic, conversation=ConversationFactory(patient=patient), **kwargs)


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def nurse(clinic):
    return StaffFactory(clinic=clinic, role=Role.NURSE)


def test_exact_mrn_finds_the_patients_conversations_and_nothing_else(clinic, nurse):
    mine = item_for(clinic, mrn="MRN424242", subject="Port dressing")
    item_for(clinic, mrn="MRN4242420", subject="Other patient")
    assert [i.pk for i in found(nurse, clinic, q="MRN424242")] == [mine.pk]
    assert [i.pk for i in found(nurse, clinic, q="mrn424242")] == [mine.pk]


def test_the_start_of_a_name_finds_the_patient(clinic, nurse):
    item = item_for(clinic, name="Rosa Villanueva")
    item_for(clinic, name="John Smith")
    assert [i.pk for i in found(nurse, clinic, q="villan")] == [item.pk]
    assert [i.pk for i in found(nurse, clinic, q="rosa vill")] == [item.pk]


def test_words_of_subject_and_body_all_match_as_prefixes(clinic, nurse):
    item = item_for(clinic, subject="Port site", body="The skin around my port is red and swollen")
    item_for(clinic, subject="Refill", body="I need more ondansetron")
    assert [i.pk for i in found(nurse, clinic, q="swell port")] == []  # "swell" is no prefix
    assert [i.pk for i in found(nurse, clinic, q="swoll PORT")] == [item.pk]
    assert [i.pk for i in found(nurse, clinic, q="site")] == [item.pk]
    assert found(nurse, clinic, q="port ondansetron") == []


def test_spanish_words_match_as_written(clinic, nurse):
    item = item_for(clinic, subject="Pregunta", body="Tengo fiebre y escalofríos desde ayer")
    assert [i.pk for i in found(nurse, clinic, q="escalofríos")] == [item.pk]
    assert [i.pk for i in found(nurse, clinic, q="fiebre")] == [item.pk]


def test_an_earlier_message_of_the_conversation_is_found_by_its_words(clinic, nurse):
    first = item_for(clinic, subject="Nausea", body="Nausea after the second cycle")
    routed_item(
        clinic, conversation=first.conversation, subject="Update", body="Feeling better today"
    )
    results = found(nurse, clinic, q="cycle")
    assert [i.conversation_id for i in results] == [first.conversation_id]


@pytest.mark.parametrize("window", [1, 10_000])
def test_newest_matches_first_from_the_recent_walk_or_the_index(clinic, nurse, window, monkeypatch):
    # window 1: the newest message holds too few matches, so the GIN index is read.
    monkeypatch.setattr(search, "RECENT_WINDOW", window)
    items = [item_for(clinic, body=f"numbness in my toes, day {n}") for n in range(4)]
    item_for(clinic, body="nothing of the kind")
    newest_first = [i.conversation_id for i in reversed(items)]
    assert (
        search.newest_matching_conversations(clinic=clinic, q="numb", limit=3) == (newest_first[:3])
    )
    assert [i.pk for i in found(nurse, clinic, q="numbness toes")] == [
        i.pk for i in reversed(items)
    ]


def test_one_row_per_conversation_however_many_messages_match(clinic, nurse):
    first = item_for(clinic, body="bleeding gums")
    routed_item(clinic, conversation=first.conversation, body="still bleeding")
    assert len(found(nurse, clinic, q="bleeding")) == 1


def test_closed_conversations_are_found_by_a_search(clinic, nurse):
    item = item_for(clinic, subject="Old question", body="lymphedema sleeve")
    WorkItem.objects.filter(pk=item.pk).update(status=WorkItem.Status.CLOSED)
    assert [i.pk for i in found(nurse, clinic, q="lymphedema")] == [item.pk]
    # Filters alone are the unanswered work: the closed item is not in it.
    assert found(nurse, clinic, acuity=item.acuity) == []
    assert [i.pk for i in found(nurse, clinic, status="closed")] == [item.pk]


def test_another_clinics_patients_are_never_found(clinic, nurse):
    other = ClinicFactory()
    item_for(other, mrn="MRN777", name="Hidden Person", body="hidden words")
    assert found(nurse, clinic, q="MRN777") == []
    assert found(nurse, clinic, q="hidden") == []


@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_billing_and_administrators_are_refused_with_the_reason(clinic, role):
    person = StaffFactory(clinic=clinic, role=role)
    item_for(clinic, mrn="MRN1")
    with pytest.raises(OutsideScopeOfPractice):
        found(person, clinic, role=role, q="MRN1")
    assert not PatientDataAccess.objects.exists()


def test_every_patient_in_the_results_is_written_to_the_access_log(clinic, nurse):
    a = item_for(clinic, name="Maria Ruiz", body="dizzy")
    b = item_for(clinic, name="Mario Ruiz", body="dizzy too")
    item_for(clinic, name="Nobody Else", body="fine")
    results = found(nurse, clinic, q="dizzy")
    assert {i.pk for i in results} == {a.pk, b.pk}
    logged = PatientDataAccess.objects.filter(user=nurse, what=SHOWN)
    assert {(r.patient_id, r.object_id) for r in logged} == {
        (a.conversation.patient_id, a.pk),
        (b.conversation.patient_id, b.pk),
    }


def test_filters_acuity_language_assignee_and_needs_review(clinic, nurse):
    urgent = item_for(clinic, acuity="urgent", language="es")
    routine = item_for(clinic, acuity="routine", language="en")
    assert [i.pk for i in found(nurse, clinic, acuity="urgent")] == [urgent.pk]
    assert [i.pk for i in found(nurse, clinic, language="es")] == [urgent.pk]
    work_items.claim(actor=nurse, item_id=routine.pk)
    assert [i.pk for i in found(nurse, clinic, assignee="me")] == [routine.pk]
    assert [i.pk for i in found(nurse, clinic, assignee="nobody")] == [urgent.pk]
    assert [i.pk for i in found(nurse, clinic, assignee=str(nurse.pk))] == [routine.pk]
    routine.message.classification.needs_review = True
    routine.message.classification.save()
    assert [i.pk for i in found(nurse, clinic, needs_review="1")] == [routine.pk]


def test_due_overdue_and_today_in_the_clinics_time_zone(clinic, nurse):
    late, today, later = item_for(clinic), item_for(clinic), item_for(clinic)
    now = timezone.now()
    local_now = now.astimezone(ZoneInfo(clinic.time_zone))
    end_of_day = datetime.datetime.combine(
        local_now.date(), datetime.time(23, 59, 59), tzinfo=local_now.tzinfo
    )
    WorkItem.objects.filter(pk=late.pk).update(due_at=now - datetime.timedelta(hours=1))
    WorkItem.objects.filter(pk=today.pk).update(due_at=end_of_day)
    WorkItem.objects.filter(pk=later.pk).update(due_at=now + datetime.timedelta(days=3))
    assert [i.pk for i in found(nurse, clinic, due="overdue")] == [late.pk]
    due_today = [i.pk for i in found(nurse, clinic, due="today")]
    assert today.pk in due_today
    assert later.pk not in due_today


def test_values_not_understood_are_dropped_and_named():
    filters = search.parse_filters(
        {"acuity": "catastrophic", "status": "open", "assignee": "x;drop", "due": "soon"}
    )
    assert (filters.acuity, filters.status, filters.assignee, filters.due) == ("", "open", "", "")
    assert set(filters.ignored) == {"acuity=catastrophic", "assignee=x;drop", "due=soon"}


def test_tsquery_syntax_in_the_box_is_only_words():
    assert search.text_query_words("pain & !(fever) | 'x':*") == ["pain", "fever", "x"]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_text_search_reads_the_gin_index():
    from inbox.models import Message

    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        plan = search.with_words(Message.objects.all(), ["fever"]).explain()
        cur.execute("RESET enable_seqscan")
    assert "message_text_search" in plan


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_stored_words_follow_an_edit_of_the_message(clinic, nurse):
    item = item_for(clinic, body="first words")
    item.message.body = "second thoughts"
    item.message.save()
    assert found(nurse, clinic, q="first") == []
    assert [i.pk for i in found(nurse, clinic, q="thoughts")] == [item.pk]
