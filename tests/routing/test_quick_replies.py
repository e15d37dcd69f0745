"""Quick replies: placeholders checked and filled (pure), the templates offered to a
person on an item (their role, the patient's language first), and the admin that
manages a clinic's own."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing import quick_replies
from routing.models import ClinicRouting, QuickReply
from routing.quick_reply_selectors import quick_replies_for
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import routed_item

# --- pure ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "unknown"),
    [
        ("Hello {patient_first_name}, call {clinic_phone}. {staff_name}", []),
        ("Hello {patient_last_name}", ["patient_last_name"]),
        ("{clinic} {clinic} {}", ["clinic", ""]),
        ("No placeholders at all", []),
    ],
)
def test_unknown_placeholders_are_found(body, unknown):
    assert quick_replies.unknown_placeholders(body) == unknown


def test_an_unknown_placeholder_is_refused_in_plain_words():
    problem = quick_replies.placeholder_problem("Hi {patient_last_name}, see {doctor}")
    assert problem == (
        "Unknown placeholders {patient_last_name}, {doctor}. A quick reply may use only "
        "{patient_first_name}, {clinic_phone}, {staff_name}."
    )
    assert quick_replies.placeholder_problem("Hi {patient_first_name}") is None


def test_fill_replaces_known_values_and_leaves_the_unknown_ones_to_the_person():
    template = quick_replies.Template(
        "k", "T", "en", "Hi {patient_first_name}, call {clinic_phone}"
    )
    filled = quick_replies.fill(template, {"patient_first_name": "Ana", "clinic_phone": " "})
    assert filled.body == "Hi Ana, call {clinic_phone}"
    assert filled.missing == ("clinic_phone",)


def test_a_brace_in_a_value_is_text_not_a_placeholder():
    template = quick_replies.Template("k", "T", "en", "{patient_first_name} / {staff_name}")
    filled = quick_replies.fill(
        template, {"patient_first_name": "{staff_name}", "staff_name": "RN Kim"}
    )
    assert filled.body == "{staff_name} / RN Kim"


@pytest.mark.parametrize(
    ("preferred", "language"),
    [("es", "es"), ("es-MX", "es"), ("ES_us", "es"), ("en", "en"), ("vi", "en"), ("", "en")],
)
def test_the_template_language_of_a_patient(preferred, language):
    assert quick_replies.language_of(preferred) == language


def test_every_built_in_template_is_valid_and_in_both_languages():
    for template in quick_replies.BUILT_IN:
        assert quick_replies.placeholder_problem(template.body) is None
    by_language = {t.language for t in quick_replies.BUILT_IN}
    assert by_language == {"en", "es"}
    assert len([t for t in quick_replies.BUILT_IN if t.language == "es"]) == 3


# --- the model and the selector ------------------------------------------------------------

pytestmark_db = pytest.mark.django_db  # the pure tests above need none


@pytestmark_db
def test_a_quick_reply_with_an_unknown_placeholder_does_not_validate():
    reply = QuickReply(clinic=ClinicFactory(), title="Hi", body="Hi {first_name}")
    with pytest.raises(ValidationError) as refused:
        reply.full_clean()
    assert refused.value.message_dict["body"] == [
        "Unknown placeholder {first_name}. A quick reply may use only "
        "{patient_first_name}, {clinic_phone}, {staff_name}."
    ]


def spanish_item(clinic):
    patient = PatientFactory(clinic=clinic, name="María López", preferred_language="es-MX")
    return routed_item(clinic, conversation=ConversationFactory(patient=patient))


@pytestmark_db
def test_a_nurse_is_offered_spanish_first_filled_in_for_the_patient():
    clinic = ClinicFactory()
    ClinicRouting.objects.create(clinic=clinic, office_phone="626-555-0100")
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, first_name="Rosa", last_name="Kim")
    item = spanish_item(clinic)

    offered = quick_replies_for(user=nurse, item=item)

    languages = [o.language for o in offered]
    assert languages == sorted(languages, key=lambda lang: lang != "es")
    assert languages.count("es") == 3
    first = offered[0]
    assert first.language == "es"
    refill = next(o for o in offered if o.key == "builtin:refill-sent-es")
    assert refill.body.startswith("Hola María, su solicitud de resurtido")
    assert "626-555-0100" in refill.body
    assert refill.body.endswith("Rosa Kim")
    assert refill.missing == ()


@pytestmark_db
def test_without_a_clinic_phone_the_placeholder_stays_for_the_person_to_fill():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    offered = quick_replies_for(user=nurse, item=spanish_item(clinic))
    assert all("{clinic_phone}" in o.body for o in offered)
    assert all(o.missing == ("clinic_phone",) for o in offered)


@pytestmark_db
def test_a_clerk_is_not_offered_results_or_refills():
    clinic = ClinicFactory()
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    offered = quick_replies_for(user=clerk, item=spanish_item(clinic))
    assert {o.key for o in offered} == {
        "builtin:appointment-received-es",
        "builtin:appointment-received-en",
    }


@pytestmark_db
def test_billing_and_administrators_are_offered_nothing():
    clinic = ClinicFactory()
    item = spanish_item(clinic)
    for role in (Role.BILLING, Role.ADMIN):
        assert quick_replies_for(user=StaffFactory(clinic=clinic, role=role), item=item) == []


@pytestmark_db
def test_the_clinics_own_templates_for_the_role_or_all_roles_are_offered():
    clinic, other = ClinicFactory(), ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    QuickReply.objects.create(
        clinic=clinic, title="Para enfermería", role="nurse", language="es", body="N"
    )
    QuickReply.objects.create(clinic=clinic, title="Para todos", language="es", body="A")
    QuickReply.objects.create(
        clinic=clinic, title="Para médicos", role="physician", language="es", body="P"
    )
    QuickReply.objects.create(clinic=clinic, title="Apagada", language="es", body="X", active=False)
    QuickReply.objects.create(clinic=other, title="De otra clínica", language="es", body="O")
    # The clinic's own wording of a built-in one replaces it.
    QuickReply.objects.create(
        clinic=clinic, title="Resurtido enviado a la farmacia", language="es", body="Propio"
    )

    titles = {o.title: o.body for o in quick_replies_for(user=nurse, item=spanish_item(clinic))}

    assert titles["Para enfermería"] == "N"
    assert titles["Para todos"] == "A"
    assert "Para médicos" not in titles
    assert "Apagada" not in titles
    assert "De otra clínica" not in titles
    assert titles["Resurtido enviado a la farmacia"] == "Propio"


# --- the admin -----------------------------------------------------------------------------

REPLIES = "/admin/routing/quickreply/"


@pytest.fixture
def clinics():
    return ClinicFactory(), ClinicFactory()


@pytest.fixture
def administrator(clinics):
    user = StaffFactory(clinic=clinics[0], role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


def reply_form(clinic, **changes) -> dict:
    return {
        "clinic": clinic.pk,
        "title": "Forms ready",
        "role": "",
        "language": "es",
        "body": "Hola {patient_first_name}, sus formularios están listos.",
        "active": "on",
    } | changes


@pytestmark_db
def test_an_administrator_adds_a_quick_reply_for_their_clinic(client, clinics, administrator):
    client.force_login(administrator)
    response = client.post(f"{REPLIES}add/", reply_form(clinics[0]))
    assert response.status_code == 302
    assert QuickReply.objects.get().clinic == clinics[0]


@pytestmark_db
def test_an_unknown_placeholder_is_refused_with_a_plain_message(client, clinics, administrator):
    client.force_login(administrator)
    response = client.post(
        f"{REPLIES}add/", reply_form(clinics[0], body="Hola {nombre}, llame al {clinic_phone}")
    )
    assert response.status_code == 200
    assert not QuickReply.objects.exists()
    assert "Unknown placeholder {nombre}. A quick reply may use only" in response.content.decode()


@pytestmark_db
def test_another_clinics_quick_replies_are_out_of_reach(client, clinics, administrator):
    theirs = QuickReply.objects.create(clinic=clinics[1], title="Theirs", body="x")
    client.force_login(administrator)
    assert client.get(f"{REPLIES}{theirs.pk}/change/").status_code in (302, 404)
    assert "Theirs" not in client.get(REPLIES).content.decode()
    refused = client.post(f"{REPLIES}add/", reply_form(clinics[1]))
    assert refused.status_code == 200  # the other clinic is not a choice
    assert not QuickReply.objects.filter(clinic=clinics[1], title="Forms ready").exists()


@pytestmark_db
def test_the_list_shows_the_built_in_quick_replies(client, administrator):
    client.force_login(administrator)
    page = client.get(REPLIES).content.decode()
    assert "Built-in quick replies" in page
    assert "Solicitud de cita recibida" in page
    assert "Lab results normal" in page
