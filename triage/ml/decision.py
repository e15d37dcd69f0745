"""The model's recall-first decision with the red-flag layer on top, for a batch of
messages. Pure: the worker, classify_messages, the evaluation and the benchmark all call
this one function."""

from collections.abc import Sequence

from triage.ml.redflags import RedFlagHit, apply_red_flags, find_red_flags
from triage.ml.types import TriageClassifier, TriageInput, TriagePrediction


def classify_items(
    model: TriageClassifier, items: Sequence[TriageInput]
) -> list[tuple[TriagePrediction, list[RedFlagHit]]]:
    results = []
    for item, prediction in zip(items, model.predict(items), strict=True):
        hits = find_red_flags(
            subject=item.subject, body=item.body, on_chemotherapy=item.on_chemotherapy
        )
        results.append((apply_red_flags(prediction, hits), hits))
    return results
