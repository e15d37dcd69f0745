import hashlib

import pytest

from triage.classification import predict_triage
from triage.ml.classifier import TriageInput
from triage.ml.types import TriagePrediction
from triage.model_registry import (
    active_model,
    register_model_version,
    serialize_model,
    shadow_model,
)
from triage.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_promotion_is_picked_up_without_restart(active_model_version, trained_triage_model):
    model, artifact, data_hash = trained_triage_model
    assert active_model().version.pk == active_model_version.pk

    promoted = register_model_version(
        model=model, artifact=artifact, name="promoted", training_data_hash=data_hash
    )

    assert active_model().version.pk == promoted.pk
    assert ModelVersion.objects.filter(is_active=True).count() == 1
    result = predict_triage([TriageInput(body="Where do I park for my appointment?")])[0]
    assert result.model_version.pk == promoted.pk


def test_a_corrupted_artifact_is_refused(active_model_version):
    ModelVersion.objects.filter(pk=active_model_version.pk).update(artifact=b"not a model")
    with pytest.raises(RuntimeError, match="sha256"):
        active_model()


def test_worker_and_batch_share_the_red_flag_layer(active_model_version):
    result = predict_triage(
        [
            TriageInput(
                subject="Refill",
                body="refill lisinopril. also my face is drooping and "
                "my words come out wrong since 10 minutes",
            )
        ]
    )[0]
    assert result.prediction.acuity == "emergent"
    assert "stroke_signs" in {hit.name for hit in result.red_flags}


class SaysAlways:
    """A model that gives one acuity to every message (stored and loaded like a real one)."""

    def __init__(self, acuity: str):
        self.acuity = acuity

    def predict(self, items):
        return [TriagePrediction(self.acuity, "nurse", False, 0.9, 0.8, 0.7) for _ in items]


def _reuse_id_for(version: ModelVersion, model) -> None:
    # What SQLite does when the newest version is deleted and another is registered: the
    # new row gets the deleted one's id. Written in place so it happens on PostgreSQL too.
    artifact = serialize_model(model)
    ModelVersion.objects.filter(pk=version.pk).update(
        artifact=artifact, sha256=hashlib.sha256(artifact).hexdigest()
    )


def test_a_new_version_under_a_reused_id_is_loaded_not_the_old_one_from_memory():
    first = register_model_version(
        model=SaysAlways("routine"), name="first", training_data_hash="x"
    )
    assert active_model().model.acuity == "routine"

    _reuse_id_for(first, SaysAlways("urgent"))

    assert active_model().model.acuity == "urgent"


def test_a_shadow_candidate_under_a_reused_id_is_loaded_not_the_old_one_from_memory():
    candidate = register_model_version(
        model=SaysAlways("routine"), name="candidate", training_data_hash="x", activate=False
    )
    assert shadow_model(candidate).acuity == "routine"

    _reuse_id_for(candidate, SaysAlways("emergent"))

    assert shadow_model(ModelVersion.objects.get(pk=candidate.pk)).acuity == "emergent"
