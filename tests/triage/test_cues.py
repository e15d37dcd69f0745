import numpy as np
import pytest

from tests.triage.factories import small_training_corpus
from triage.ml.classifier import VARIANTS, TriageInput, TriageModel
from triage.ml.cues import FEATURE_NAMES, cue_features


def _on(item: TriageInput) -> set[str]:
    row = cue_features([item]).toarray()[0]
    return {FEATURE_NAMES[i] for i in np.flatnonzero(row)}


def test_cues_see_time_symptoms_and_the_chemotherapy_flag():
    found = _on(TriageInput(body="Fever of 101 since this morning", on_chemotherapy=True))
    assert {"cue:now", "cue:recent_onset", "cue:symptom", "patient:on_chemotherapy"} <= found
    assert "cue:long_duration" not in found


def test_a_general_question_is_question_only():
    found = _on(TriageInput(body="What is Noonan syndrome?"))
    assert {"cue:question_general", "cue:question_only", "cue:short"} <= found
    assert "cue:now" not in found


ROWS = small_training_corpus()


@pytest.mark.parametrize("variant", [n for n, v in VARIANTS.items() if v.cues or v.binary_acuity])
def test_cue_and_binary_variants_give_acuity_probabilities(variant):
    model = TriageModel.train(ROWS, variant=variant)
    items = [TriageInput(body="chest pain now"), TriageInput(body="parking hours?")]
    acuity = model.probabilities(items)["acuity"]
    assert acuity.shape == (2, 3)
    assert np.allclose(acuity.sum(axis=1), 1.0)
    assert (acuity >= 0).all()
    assert len(model.predict(items)) == 2
