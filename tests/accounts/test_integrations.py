"""The integration principal: only the portal's or EHR's token posts patient messages and
collects replies; staff do staff work; a portal's patient details never rewrite the chart
unless the clinic made that system its source of truth; tokens are issued in the admin,
shown once and stored as a digest."""

import datetime

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, Role
from accounts.services import api_token_digest, issue_api_token, revoke_api_tokens
from inbox.models import Message, Patient, PatientChange
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory, UserFactory
from tests.inbox.factories import PatientFactory

pytestmark = pytest.mark.django_db

MESSAGES = "/api/v1/messages"


def payload(clinic, external_id="portal-1", **patient):
    return {
        "external_id": external_id,
        "clinic": clinic.slug,
        "patient": {"mrn": "A-1", **patient},
        "subject": "Question",
        "body": "Can I take ibuprofen with my blood pressure pills?",
    }


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.parametrize("role", list(Role))
def test_no_staff_role_may_post_a_patient_message_by_token_or_session(role, client_for):
    clinic = ClinicFactory()
    staff = StaffFactory(clinic=clinic, role=role)
    _, token = issue_api_token(user=staff, created_by=None)

    by_token = bearer(token).post(MESSAGES, payload(clinic), format="json")
    by_session = client_for(staff).post(MESSAGES, payload(clinic), format="json")

    assert by_token.status_code == by_session.status_code == 403
    assert "integration token" in by_token.json()["detail"]
    assert not Message.objects.exists()
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/work-items"),
        ("get", "/api/v1/billing/evisits"),
        ("post", "/api/v1/work-items/1/claim"),
        ("post", "/api/v1/work-items/1/reply"),
        ("post", "/api/v1/work-items/1/time"),
    ],
)
def test_an_integration_token_may_not_do_staff_work(method, url):
    integration = IntegrationFactory()
    _, token = issue_api_token(user=integration.account, created_by=None)

    response = getattr(bearer(token), method)(url, {}, format="json")

    assert response.status_code == 403
    assert "integration token may only post patient messages" in response.json()["detail"]


def test_the_integration_account_cannot_sign_in_to_the_screens(client):
    integration = IntegrationFactory()
    assert not integration.account.has_usable_password()
    assert not integration.account.memberships.exists()


def test_a_revoked_or_unknown_token_is_refused_alike(active_model_version):
    integration = IntegrationFactory()
    row, token = issue_api_token(user=integration.account, created_by=None)
    assert (
        bearer(token).post(MESSAGES, payload(integration.clinic), format="json").status_code == 201
    )

    revoke_api_tokens(tokens=[row])
    revoked = bearer(token).post(MESSAGES, payload(integration.clinic, "p-2"), format="json")
    unknown = bearer("pt_not-a-token").post(
        MESSAGES, payload(integration.clinic, "p-3"), format="json"
    )

    assert revoked.status_code == unknown.status_code == 401
    assert revoked.json() == unknown.json()
    assert Message.objects.count() == 1


def test_only_a_digest_of_the_token_is_stored():
    row, token = issue_api_token(user=IntegrationFactory().account, created_by=None)
    stored = ApiToken.objects.get(pk=row.pk)
    assert stored.digest == api_token_digest(token)
    assert token not in {stored.digest, stored.prefix, stored.name}


class TestPatientDetailsFromAPortal:
    @pytest.fixture
    def chart(self):
        clinic = ClinicFactory()
        return PatientFactory(
            clinic=clinic,
            mrn="A-1",
            name="Ana Diaz",
            birth_date=datetime.date(1961, 4, 2),
            on_chemotherapy=True,
            phone="",
        )

    def post_as(self, integration, client_for, **patient):
        response = client_for(integration.account).post(
            MESSAGES, payload(integration.clinic, **patient), format="json"
        )
        assert response.status_code == 201

    def test_never_overwrite_name_birth_date_or_flags(
        self, chart, client_for, active_model_version
    ):
        portal = IntegrationFactory(clinic=chart.clinic, demographics_source=False)

        self.post_as(
            portal,
            client_for,
            name="Someone Else",
            birth_date="1990-01-01",
            on_chemotherapy=False,
            phone="(626) 555-0100",
        )

        chart.refresh_from_db()
        assert (chart.name, chart.birth_date, chart.on_chemotherapy) == (
            "Ana Diaz",
            datetime.date(1961, 4, 2),
            True,
        )
        assert chart.phone == "(626) 555-0100"  # blank before: filled
        recorded = {c.field: (c.old_value, c.new_value, c.applied) for c in chart.changes.all()}
        assert recorded == {
            "name": ("Ana Diaz", "Someone Else", False),
            "birth_date": ("1961-04-02", "1990-01-01", False),
            "on_chemotherapy": ("True", "False", False),
            "phone": ("", "(626) 555-0100", True),
        }
        assert {c.integration_id for c in chart.changes.all()} == {portal.pk}

    def test_the_source_of_truth_overwrites_and_is_recorded(
        self, chart, client_for, active_model_version
    ):
        ehr = IntegrationFactory(clinic=chart.clinic, demographics_source=True)

        self.post_as(ehr, client_for, name="Ana Diaz Ruiz", on_chemotherapy=False)

        chart.refresh_from_db()
        assert (chart.name, chart.on_chemotherapy) == ("Ana Diaz Ruiz", False)
        assert set(
            PatientChange.objects.values_list("field", "old_value", "new_value", "applied")
        ) == {
            ("name", "Ana Diaz", "Ana Diaz Ruiz", True),
            ("on_chemotherapy", "True", "False", True),
        }

    def test_the_same_details_record_nothing(self, chart, client_for, active_model_version):
        portal = IntegrationFactory(clinic=chart.clinic)
        self.post_as(portal, client_for, name="Ana Diaz", birth_date="1961-04-02")
        assert not PatientChange.objects.exists()


class TestTokensInTheAdmin:
    ADD = "/admin/accounts/apitoken/add/"

    def test_a_superuser_issues_a_token_shown_once_that_works(self, client, active_model_version):
        superuser = UserFactory(is_staff=True, is_superuser=True)
        portal = IntegrationFactory()
        client.force_login(superuser)

        page = client.post(self.ADD, {"user": portal.account.pk, "name": "portal prod"})

        assert page.status_code == 200
        assert "no-store" in page["Cache-Control"]
        token = page.context["token"]
        assert token.startswith("pt_")
        assert token in page.content.decode()
        row = ApiToken.objects.get()
        assert (row.user, row.created_by, row.name) == (portal.account, superuser, "portal prod")
        listed = client.get("/admin/accounts/apitoken/").content.decode()
        assert token not in listed
        assert row.prefix in listed
        posted = bearer(token).post(MESSAGES, payload(portal.clinic), format="json")
        assert posted.status_code == 201

    def test_a_clinic_administrator_issues_tokens_only_for_their_clinics_integrations(self, client):
        clinic, other = ClinicFactory(), ClinicFactory()
        administrator = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
        ours, theirs = IntegrationFactory(clinic=clinic), IntegrationFactory(clinic=other)
        colleague = StaffFactory(clinic=clinic, role=Role.NURSE)
        client.force_login(administrator)

        offered = client.get(self.ADD).content.decode()
        assert ours.account.username in offered
        assert theirs.account.username not in offered
        assert colleague.username not in offered

        for refused in (theirs.account, colleague):
            response = client.post(self.ADD, {"user": refused.pk, "name": "x"})
            assert response.status_code == 200
            assert "token" not in (response.context or {})
        assert not ApiToken.objects.exists()

        client.post(self.ADD, {"user": ours.account.pk, "name": "ok"})
        assert ApiToken.objects.get().user == ours.account

    def test_a_clinic_administrator_sees_and_revokes_only_their_clinics_tokens(self, client):
        clinic, other = ClinicFactory(), ClinicFactory()
        administrator = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
        ours, _ = issue_api_token(user=IntegrationFactory(clinic=clinic).account, created_by=None)
        theirs, _ = issue_api_token(user=IntegrationFactory(clinic=other).account, created_by=None)
        client.force_login(administrator)

        listed = client.get("/admin/accounts/apitoken/").content.decode()
        assert ours.prefix in listed
        assert theirs.prefix not in listed
        client.post(
            "/admin/accounts/apitoken/",
            {"action": "revoke", "_selected_action": [ours.pk, theirs.pk]},
        )
        ours.refresh_from_db()
        theirs.refresh_from_db()
        assert ours.revoked_at is not None
        assert theirs.revoked_at is None

    def test_the_ticked_scopes_are_stored_shown_and_enforced(self, client, active_model_version):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        portal = IntegrationFactory()

        page = client.post(
            self.ADD, {"user": portal.account.pk, "name": "replies only", "scopes": ["outbox:read"]}
        )

        row = ApiToken.objects.get()
        assert row.scopes == ["outbox:read"]
        assert "outbox:read" in client.get("/admin/accounts/apitoken/").content.decode()
        token = bearer(page.context["token"])
        collected = token.get("/api/v1/outgoing-messages", {"clinic": portal.clinic.slug})
        assert collected.status_code == 200
        refused = token.post(MESSAGES, payload(portal.clinic), format="json")
        assert refused.status_code == 403
        assert "'messages:write'" in refused.json()["detail"]
        assert not Message.objects.exists()

    def test_none_ticked_gives_the_holders_usual_scopes(self, client):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        portal, nurse = IntegrationFactory(), StaffFactory(role=Role.NURSE)

        for user in (portal.account, nurse):
            client.post(self.ADD, {"user": user.pk, "name": "defaults"})

        assert ApiToken.objects.get(user=portal.account).scopes == [
            "messages:write",
            "outbox:read",
            "outbox:write",
        ]
        assert ApiToken.objects.get(user=nurse).scopes == ["work:read", "work:write"]

    def test_a_clinic_administrator_is_offered_the_integration_scopes_ticked(self, client):
        clinic = ClinicFactory()
        client.force_login(StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True))

        form = client.get(self.ADD).context["adminform"].form

        assert form.initial["scopes"] == ["messages:write", "outbox:read", "outbox:write"]

    def test_a_nurse_has_no_token_admin(self, client):
        nurse = StaffFactory(role=Role.NURSE, is_staff=True)
        client.force_login(nurse)
        assert client.get(self.ADD).status_code in (302, 403)
