from dataclasses import replace

from triage.ml.corpus import LabeledMessage
from triage.ml.evaluation import annotator_against_annotator, holdout_split, red_flags_alone, score


def _row(i: int, acuity: str, level: str) -> LabeledMessage:
    return LabeledMessage(
        id=f"r{i}",
        subject="",
        body=f"message {i}",
        acuity=acuity,
        service_level=level,
        evisit_candidate=False,
    )


def test_holdout_split_is_stratified_disjoint_and_stable():
    rows = [_row(i, ["emergent", "urgent", "routine"][i % 3], "nurse") for i in range(300)]
    train, test = holdout_split(rows)
    _, again_test = holdout_split(list(reversed(rows)))

    assert {r.id for r in test} == {r.id for r in again_test}
    assert not {r.id for r in train} & {r.id for r in test}
    assert len(test) == 60
    assert sum(r.acuity == "emergent" for r in test) == 20


def test_score_counts_emergent_predicted_routine():
    rows = [_row(1, "emergent", "nurse"), _row(2, "emergent", "nurse"), _row(3, "routine", "ma")]
    report = score(rows, ["routine", "emergent", "routine"], None, None)
    assert report["emergent_predicted_routine"] == 1
    assert report["emergent_recall"] == 0.5


def test_agreement_uses_first_pass_labels_from_before_adjudication():
    from triage.ml.agreement import agreement

    rows = [_row(1, "urgent", "nurse"), _row(2, "routine", "ma")]
    second = {
        "r1": {"acuity": "urgent", "service_level": "nurse", "evisit_candidate": False},
        "r2": {"acuity": "routine", "service_level": "ma", "evisit_candidate": False},
    }
    # r2 was "clerical" before adjudication changed the corpus to agree with the second pass.
    overrides = {"r2": {"id": "r2", "service_level": "clerical"}}

    report = agreement(rows, second, overrides)

    assert report["rows"] == 2
    assert report["service_level"]["raw_agreement"] == 0.5
    assert [d["id"] for d in report["disagreements"]] == ["r2"]


def _real(row: LabeledMessage) -> LabeledMessage:
    return replace(row, source="MeQSum (CC BY 4.0)")


def test_scores_the_real_patients_questions_also_on_their_own():
    rows = [
        _real(_row(1, "urgent", "nurse")),
        _real(_row(2, "routine", "nurse")),
        replace(_row(3, "urgent", "nurse"), source="synthetic-portal"),
    ]
    # Red flags alone call everything routine here: the real urgent one is missed.
    report = red_flags_alone(rows)

    assert report["rows"] == 3
    assert report["real_questions"]["rows"] == 2
    assert report["real_questions"]["urgent_or_above_recall"] == 0.0
    assert report["real_questions"]["acuity"]["accuracy"] == 0.5


def test_annotator_against_annotator_scores_each_pass_against_the_other():
    rows = [_row(1, "urgent", "nurse"), _row(2, "routine", "nurse"), _row(3, "routine", "ma")]
    # Adjudicated to "urgent"; the first annotator had said routine.
    overrides = {"r2": {"id": "r2", "acuity": "routine"}}
    rows[1] = replace(rows[1], acuity="urgent")
    second = {
        "r1": {"acuity": "urgent", "service_level": "nurse", "evisit_candidate": False},
        "r2": {"acuity": "urgent", "service_level": "nurse", "evisit_candidate": False},
    }

    report = annotator_against_annotator(rows, second, overrides)

    # r3 has no second pass and is left out.
    assert report["second_against_first"]["rows"] == 2
    # Against the first pass (one urgent), the second catches it: recall 1.
    assert report["second_against_first"]["urgent_or_above_recall"] == 1.0
    # Against the second pass (two urgent), the first misses r2: recall 0.5.
    assert report["first_against_second"]["urgent_or_above_recall"] == 0.5
    assert report["first_against_second"]["acuity"]["accuracy"] == 0.5
