"""Superusers look at the triage model versions in the admin, see how each does in the
clinics (corrections by staff, drift of label shares), and promote or roll back one."""

import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from accounts.models import Role
from tests.accounts.factories import StaffFactory, UserFactory
from tests.triage.factories import ClassificationFactory, small_training_corpus
from triage.ml.classifier import DEFAULT_VARIANT
from triage.ml.training import fit_model
from triage.model_registry import active_model, register_model_version
from triage.models import Classification, LabelCorrection, ModelVersion
from triage.selectors import model_version_usage

pytestmark = pytest.mark.django_db

VERSIONS = "/admin/triage/modelversion/"


@pytest.fixture(scope="module")
def tiny_model():
    return fit_model(small_training_corpus(), DEFAULT_VARIANT)


def version(model, name: str, *, activate: bool) -> ModelVersion:
    return register_model_version(
        model=model,
        name=name,
        training_data_hash="0" * 64,
        metrics={"holdout": None} if name.endswith("untested") else {},
        activate=activate,
    )


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


def test_a_superuser_rolls_back_to_an_older_version_and_workers_pick_it_up(
    client, superuser, tiny_model
):
    older = version(tiny_model, "triage-march", activate=True)
    newer = version(tiny_model, "triage-april", activate=True)
    assert active_model().version.pk == newer.pk
    client.force_login(superuser)

    response = client.post(
        VERSIONS, {"action": "promote", "_selected_action": [older.pk]}, follow=True
    )

    assert "The active model is now triage-march" in response.text
    assert list(ModelVersion.objects.filter(is_active=True)) == [older]
    assert active_model().version.pk == older.pk
    assert LogEntry.objects.get(object_id=str(older.pk)).user == superuser


def test_a_version_whose_artifact_does_not_load_is_not_promoted(client, superuser, tiny_model):
    good = version(tiny_model, "triage-good", activate=True)
    broken = version(tiny_model, "triage-broken", activate=False)
    ModelVersion.objects.filter(pk=broken.pk).update(artifact=b"not a model")
    client.force_login(superuser)

    response = client.post(
        VERSIONS, {"action": "promote", "_selected_action": [broken.pk]}, follow=True
    )

    assert "Not made active: the artifact of triage-broken does not load" in response.text
    assert list(ModelVersion.objects.filter(is_active=True)) == [good]


def test_promoting_needs_exactly_one_version(client, superuser, tiny_model):
    first = version(tiny_model, "a", activate=True)
    second = version(tiny_model, "b", activate=False)
    client.force_login(superuser)

    response = client.post(
        VERSIONS, {"action": "promote", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert "Select exactly one version" in response.text
    assert list(ModelVersion.objects.filter(is_active=True)) == [first]


def test_clinic_administrators_do_not_see_the_models(client, tiny_model):
    version(tiny_model, "triage-x", activate=True)
    administrator = StaffFactory(role=Role.ADMIN, is_staff=True)
    client.force_login(administrator)

    assert client.get(VERSIONS).status_code == 403
    assert "Model versions" not in client.get("/admin/").text


def classified(model_version, *, days_ago: float, **labels) -> Classification:
    row = ClassificationFactory(model_version=model_version, **labels)
    Classification.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    return row


def test_usage_counts_corrections_and_marks_a_shift_in_label_shares(tiny_model):
    model_version = version(tiny_model, "triage-live", activate=True)
    # The four weeks before: 10% urgent. The last week: 40% urgent.
    for i in range(60):
        classified(model_version, days_ago=10, acuity="urgent" if i < 6 else "routine")
    for i in range(50):
        classified(model_version, days_ago=2, acuity="urgent" if i < 20 else "routine")
    moved = classified(model_version, days_ago=1, service_level="nurse")
    LabelCorrection.objects.create(
        message=moved.message, label="service_level", from_value="nurse", to_value="physician"
    )
    classified(model_version, days_ago=90)  # outside both windows

    usage = model_version_usage(version=model_version, now=timezone.now())

    assert (usage["classified"], usage["recent"], usage["baseline"]) == (112, 51, 60)
    assert usage["corrected_messages"] == 1
    assert usage["kept_share"] == pytest.approx(100 * 111 / 112)
    assert usage["corrections"] == [
        {"label": "service_level", "from_value": "nurse", "to_value": "physician", "messages": 1}
    ]
    urgent = next(d for d in usage["drift"] if (d["label"], d["value"]) == ("acuity", "urgent"))
    assert urgent["recent"] == pytest.approx(100 * 20 / 51)
    assert urgent["baseline"] == pytest.approx(10.0)
    assert urgent["flag"]
    nurse = next(d for d in usage["drift"] if d["value"] == "nurse")
    assert not nurse["flag"]  # every message was nurse in both windows


def test_too_few_messages_are_not_compared(tiny_model):
    model_version = version(tiny_model, "triage-new", activate=True)
    classified(model_version, days_ago=2, acuity="urgent")
    classified(model_version, days_ago=10, acuity="routine")

    usage = model_version_usage(version=model_version, now=timezone.now())

    assert {d["shift"] for d in usage["drift"]} == {None}
    assert not any(d["flag"] for d in usage["drift"])


def test_the_version_page_shows_held_out_figures_and_use(client, superuser, tiny_model):
    model_version = version(tiny_model, "triage-live", activate=True)
    classified(model_version, days_ago=1, acuity="urgent")
    client.force_login(superuser)

    page = client.get(f"{VERSIONS}{model_version.pk}/change/")

    assert page.status_code == 200
    assert "Not evaluated" in page.text
    assert "1 message classified by this version" in page.text
    assert "too few messages to compare" in page.text
    assert "artifact" not in page.context["adminform"].form.fields
