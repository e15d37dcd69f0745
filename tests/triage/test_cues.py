import numpy as np
import pytest

from triage.classifier import VARIANTS, TriageInput, TriageModel
from triage.corpus import LabeledMessage
from triage.cues import FEATURE_NAMES, cue_features


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


ROWS = [
    LabeledMessage(
        id=f"m{i}",
        subject="",
        body=body,
        acuity=acuity,
        service_level=level,
        evisit_candidate=evisit,
    )
    for i, (body, acuity, level, evisit) in enumerate(
        [
            ("crushing chest pain right now", "emergent", "nurse", False),
            ("I can't breathe, lips blue", "emergent", "nurse", False),
            ("burning when I pee since yesterday", "urgent", "nurse", True),
            ("vomiting for two days, can't keep water down", "urgent", "nurse", True),
            ("can I reschedule my appointment", "routine", "clerical", False),
            ("refill lisinopril, two weeks left", "routine", "ma", False),
            ("should I stop tamoxifen before surgery", "routine", "physician", True),
            ("what is noonan syndrome", "routine", "nurse", False),
        ]
        * 3
    )
]


@pytest.mark.parametrize("variant", [n for n, v in VARIANTS.items() if v.cues or v.binary_acuity])
def test_cue_and_binary_variants_give_acuity_probabilities(variant):
    model = TriageModel.train(ROWS, variant=variant)
    items = [TriageInput(body="chest pain now"), TriageInput(body="parking hours?")]
    acuity = model.probabilities(items)["acuity"]
    assert acuity.shape == (2, 3)
    assert np.allclose(acuity.sum(axis=1), 1.0)
    assert (acuity >= 0).all()
    assert len(model.predict(items)) == 2
