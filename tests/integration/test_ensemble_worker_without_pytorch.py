"""A model version holding the transformer ensemble, active, classifies messages in a
real Celery worker process that cannot import PyTorch (as a worker installed without the
train extra): the ONNX graph is served by onnxruntime alone."""

from pathlib import Path

import pytest

from tests.accounts.factories import ClinicFactory, IntegrationFactory
from tests.integration.test_cold_start_worker import post_message, routed_item, wait_for
from tests.triage.transformer_factories import small_ensemble
from triage.classification import predict_triage
from triage.ml.classifier import TriageInput
from triage.model_registry import register_model_version
from triage.models import Classification

pytestmark = pytest.mark.integration

WITHOUT_PYTORCH = Path(__file__).resolve().parents[1] / "without_pytorch"
BODY = "I have had a fever of 101 since last night and a cough"


def test_an_ensemble_version_classifies_in_a_worker_without_pytorch(workers, client_for):
    version = register_model_version(
        model=small_ensemble(), name="test-ensemble", training_data_hash="test"
    )
    expected = predict_triage([TriageInput(subject="Question", body=BODY)])[0].prediction
    workers.start("triage", queues="triage,default", PYTHONPATH=str(WITHOUT_PYTORCH))
    clinic = ClinicFactory()
    client = client_for(IntegrationFactory(clinic=clinic).account)

    message_id = post_message(client, clinic, "ensemble-1", BODY)

    item, seconds = wait_for(lambda: routed_item(message_id), 20)
    assert item is not None, f"not routed within 20 s:\n{workers.logs['triage'].read_text()}"
    classification = Classification.objects.get(message_id=message_id)
    assert classification.model_version_id == version.pk
    assert not classification.unclassified
    assert (classification.acuity, classification.service_level) == (
        expected.acuity,
        expected.service_level,
    )
    log = workers.logs["triage"].read_text()
    assert "the transformer failed" not in log  # no fallback to the TF-IDF half
    print(f"classified by the ensemble in a worker without PyTorch in {seconds:.2f}s")
