import pytest

from triage.classification import predict_triage
from triage.ml.classifier import TriageInput
from triage.model_registry import active_model, register_model_version
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
