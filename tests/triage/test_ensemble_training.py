"""Training the transformer ensemble: out-of-fold thresholds, the admin's slow-queue
request, its refusal without PyTorch, and serving: the TF-IDF fast path and the fallback
when the transformer cannot run."""

import json
import sys
from dataclasses import replace

import numpy as np
import pytest
from django.core.management import call_command

from accounts.models import Role
from tests.accounts.factories import StaffFactory, UserFactory
from tests.triage.factories import small_training_corpus
from tests.triage.transformer_factories import small_ensemble
from triage.classification import predict_triage
from triage.ml.classifier import (
    DEFAULT_VARIANT,
    DecisionThresholds,
    TriageInput,
    TriageModel,
    message_text,
)
from triage.ml.decision import classify_items
from triage.ml.ensemble import (
    ENSEMBLE_VARIANT,
    average,
    fit_ensemble,
    more_acute_of,
    transformer_fold_probabilities,
)
from triage.ml.neighbours import (
    DEFAULT_NEIGHBOUR_WEIGHT,
    NeighbourPool,
    blend,
    out_of_fold_votes,
)
from triage.ml.training import (
    as_input,
    choose_thresholds,
    out_of_fold_probabilities,
    red_flag_hits,
    stratified_folds,
)
from triage.ml.transformer.fine_tuning import FineTuning, pretrained_embeddings
from triage.ml.types import TriagePrediction
from triage.model_registry import register_model_version
from triage.model_training import run_ensemble_training
from triage.models import ModelTraining
from triage.services import request_ensemble_training
from triage.tasks import ENSEMBLE_TRAINING

VERSIONS = "/admin/triage/modelversion/"


def test_fit_ensemble_chooses_thresholds_out_of_fold_and_fits_both_halves_on_every_row():
    rows = small_training_corpus()
    steps = []

    fit = fit_ensemble(
        rows,
        k=2,
        settings=FineTuning(max_steps=1, batch_size=16),
        progress=lambda step, total, what: steps.append((step, total, what)),
    )

    model = fit.model
    assert model.variant == ENSEMBLE_VARIANT
    assert model.transformer.quantized
    assert 0.0 < model.thresholds.urgent_or_above <= 0.95
    assert set(fit.out_of_fold["pooled"]) >= {"urgency_auc", "service_accuracy", "evisit_f1"}
    assert fit.out_of_fold["pooled"]["rows"] == len(rows)
    assert [s[0] for s in steps] == sorted(s[0] for s in steps)
    assert steps[-1][:2] == (6, 6)
    assert any("fold 2 of 2" in what for _, _, what in steps)
    # The fine-tunes' own updates are told too (a soup of two one-update fine-tunes here),
    # under the step they belong to: the final fit's is the last before "done".
    assert steps[-2] == (5, 6, f"fine-tuning MiniLM on all {len(rows)} messages: 2 of 2 updates")
    assert (0, 6, "fine-tuning MiniLM without fold 1 of 2: 1 of 2 updates") in steps
    assert any("MiniLM's embeddings" in s[2] for s in steps)
    assert model.neighbours.weight == DEFAULT_NEIGHBOUR_WEIGHT
    assert len(model.neighbours.pool.embeddings) == len(rows)
    predictions = model.predict([TriageInput(body="crushing chest pain right now")])
    assert predictions[0].acuity in {"emergent", "urgent", "routine"}


def test_a_fold_s_fine_tune_learns_from_the_rows_it_is_given_and_scores_the_whole_fold():
    # The learning curve (bench/triage_learning_curve.py) fine-tunes on part of the
    # other folds; the held-out fold is still scored whole.
    rows = small_training_corpus()
    held, other = stratified_folds(rows, 2, salt="oof-seed0")
    updates = []

    scores = transformer_fold_probabilities(
        rows,
        k=2,
        fold=0,
        seed=0,
        settings=FineTuning(epochs=1, batch_size=4, soup=1),
        progress=lambda done, total: updates.append(total),
        training=other[:8],
    )

    assert scores.held == held
    assert updates[-1] == 2  # 8 rows in batches of 4, not the other fold's 13
    assert scores.probabilities["int8"]["acuity"].shape == (len(held), 3)
    with pytest.raises(ValueError, match="fold they score"):
        transformer_fold_probabilities(rows, k=2, fold=0, seed=0, training=[held[0], other[0]])


def _flat_transformer_out_of_fold(n: int) -> dict:
    return {
        "acuity": np.full((n, 3), 1 / 3),
        "service_level": np.full((n, 4), 0.25),
        "evisit_candidate": np.full(n, 0.5),
    }


def test_the_written_questions_train_the_tfidf_half_and_vote_but_are_never_scored():
    rows = small_training_corpus()
    written = [replace(r, id=f"written-{i}", acuity="emergent") for i, r in enumerate(rows[:9])]
    n = len(rows)
    transformer_out_of_fold = _flat_transformer_out_of_fold(n)
    texts = [message_text(r.subject, r.body) for r in rows]
    # Each row asks the vote with another row's embedding: the vote must use these.
    imitation_out_of_fold = np.roll(pretrained_embeddings(texts), 1, axis=0)

    fit = fit_ensemble(
        rows,
        k=2,
        settings=FineTuning(max_steps=1, batch_size=16),
        transformer_out_of_fold=transformer_out_of_fold,
        imitation_out_of_fold=imitation_out_of_fold,
        training_only=written,
    )

    model = fit.model
    assert fit.out_of_fold["pooled"]["rows"] == n
    # Thresholds chosen on the corpus rows' out-of-fold probabilities only, the written
    # rows having shaped each fold's TF-IDF half and voted in each fold's neighbours.
    half_out_of_fold = out_of_fold_probabilities(
        rows, DEFAULT_VARIANT, 2, salt="oof-seed0", training_only=written
    )
    assert model.neighbours.encoder is None
    votes = out_of_fold_votes(
        NeighbourPool.of(rows, pretrained_embeddings(texts)),
        stratified_folds(rows, 2, salt="oof-seed0"),
        NeighbourPool.of(
            written, pretrained_embeddings([message_text(r.subject, r.body) for r in written])
        ),
        queries=imitation_out_of_fold,
    )
    paired = average(half_out_of_fold, transformer_out_of_fold, model.weights)
    averaged = blend(paired, votes, DEFAULT_NEIGHBOUR_WEIGHT)
    assert model.thresholds == choose_thresholds(averaged, rows, red_flag_hits(rows))
    assert model.neighbours.pair_thresholds == choose_thresholds(paired, rows, red_flag_hits(rows))
    assert len(model.neighbours.pool.embeddings) == n + len(written)
    items = [as_input(r) for r in rows]
    fast, half = model.tfidf.probabilities(items), model.tfidf_half.probabilities(items)
    np.testing.assert_allclose(
        fast["acuity"], TriageModel.train(rows).probabilities(items)["acuity"]
    )
    others = np.array([r.acuity != "emergent" for r in rows])
    assert np.all(half["acuity"][others, 0] > fast["acuity"][others, 0])
    transformer, imitation = model.transformer.probabilities_and_imitation(texts)
    expected = blend(
        average(half, transformer, model.weights),
        model.neighbours.pool.vote(imitation),
        DEFAULT_NEIGHBOUR_WEIGHT,
    )
    np.testing.assert_allclose(model.probabilities(items)["acuity"], expected["acuity"])


def test_reused_out_of_fold_results_without_imitations_cannot_train_the_vote():
    rows = small_training_corpus()

    with pytest.raises(ValueError, match="no imitated embeddings"):
        fit_ensemble(
            rows,
            k=2,
            settings=FineTuning(max_steps=1, batch_size=16),
            transformer_out_of_fold=_flat_transformer_out_of_fold(len(rows)),
        )


def test_where_the_two_models_alone_call_a_message_more_acute_their_decision_stands():
    ensemble = small_ensemble()
    items = [TriageInput(body=t) for t in ("chest pain", "refill please", "bill question")]
    never = DecisionThresholds(emergent=1.01, urgent_or_above=1.01)
    always = DecisionThresholds(emergent=1.01, urgent_or_above=0.0)

    blend_says_routine = replace(
        ensemble,
        thresholds=never,
        neighbours=replace(ensemble.neighbours, pair_thresholds=always),
    ).predict(items)
    both_say_routine = replace(
        ensemble,
        thresholds=never,
        neighbours=replace(ensemble.neighbours, pair_thresholds=never),
    ).predict(items)
    pair_says_routine = replace(
        ensemble,
        thresholds=always,
        neighbours=replace(ensemble.neighbours, pair_thresholds=never),
    ).predict(items)

    assert [p.acuity for p in blend_says_routine] == ["urgent"] * 3
    assert [p.acuity for p in both_say_routine] == ["routine"] * 3
    assert [p.acuity for p in pair_says_routine] == ["urgent"] * 3  # never lowered either


def test_more_acute_of_takes_the_floor_only_where_it_is_more_acute():
    routine, urgent, emergent = (
        TriagePrediction(
            acuity=a,
            service_level="nurse",
            evisit_candidate=False,
            acuity_confidence=0.9,
            service_level_confidence=0.9,
            evisit_confidence=0.9,
        )
        for a in ("routine", "urgent", "emergent")
    )

    decided = more_acute_of([routine, emergent, urgent], [urgent, urgent, urgent])

    assert [d.acuity for d in decided] == ["urgent", "emergent", "urgent"]


def test_without_the_neighbours_vote_the_ensemble_averages_the_two_models_as_before():
    rows = small_training_corpus()
    transformer_out_of_fold = _flat_transformer_out_of_fold(len(rows))

    model = fit_ensemble(
        rows,
        k=2,
        settings=FineTuning(max_steps=1, batch_size=16),
        transformer_out_of_fold=transformer_out_of_fold,
        neighbour_weight=0,
    ).model

    assert model.neighbours is None
    tfidf_out_of_fold = out_of_fold_probabilities(rows, DEFAULT_VARIANT, 2, salt="oof-seed0")
    averaged = average(tfidf_out_of_fold, transformer_out_of_fold, model.weights)
    assert model.thresholds == choose_thresholds(averaged, rows, red_flag_hits(rows))
    items = [as_input(r) for r in rows]
    texts = [message_text(i.subject, i.body) for i in items]
    expected = average(
        model.tfidf.probabilities(items), model.transformer.probabilities(texts), model.weights
    )
    np.testing.assert_allclose(model.probabilities(items)["acuity"], expected["acuity"])


@pytest.mark.django_db
def test_one_ensemble_training_is_asked_at_a_time(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        _first, first_enqueued = request_ensemble_training()
        second, second_enqueued = request_ensemble_training()

    assert (first_enqueued, second_enqueued) == (True, False)
    assert len(enqueued) == 1
    assert second.status == ModelTraining.Status.REQUESTED

    ModelTraining.objects.filter(name=ENSEMBLE_TRAINING).update(status=ModelTraining.Status.DONE)
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        _, again = request_ensemble_training()
    assert again
    assert len(enqueued) == 1


@pytest.mark.django_db
def test_the_slow_queue_s_ensemble_training_records_how_far_it_is(monkeypatch):
    ModelTraining.objects.create(name=ENSEMBLE_TRAINING, requested_at="2026-12-05T09:00Z")
    seen = []

    def train(*, activate, progress):
        # An hour of fine-tuning stands in for nothing here: what is checked is that the
        # task hands the fit a progress that lands on the row the admin page reads.
        progress(3, 8, "fine-tuning MiniLM on all 4074 messages: 40 of 1530 updates")
        seen.append(ModelTraining.objects.get(name=ENSEMBLE_TRAINING))
        return register_model_version(
            model=small_ensemble(), name="e", training_data_hash="x", activate=activate
        )

    monkeypatch.setattr("triage.model_training.train_ensemble_model_version", train)

    training = run_ensemble_training(name=ENSEMBLE_TRAINING)

    assert training.status == ModelTraining.Status.DONE
    [running] = seen
    assert (running.status, running.progress_step, running.progress_total) == ("running", 3, 8)
    assert running.progress_note.endswith("40 of 1530 updates")
    assert not training.model_version.is_active


@pytest.mark.django_db
def test_a_worker_without_pytorch_refuses_the_training_and_says_why(monkeypatch):
    ModelTraining.objects.create(name=ENSEMBLE_TRAINING, requested_at="2026-12-05T09:00Z")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError

    training = run_ensemble_training(name=ENSEMBLE_TRAINING)

    assert training.status == ModelTraining.Status.FAILED
    assert "PyTorch is not installed" in training.error


@pytest.mark.django_db
def test_only_a_superuser_may_ask_for_the_training_from_the_admin(
    client, django_capture_on_commit_callbacks
):
    staff = StaffFactory(role=Role.ADMIN, is_staff=True)
    client.force_login(staff)
    refused = client.post(f"{VERSIONS}train-ensemble/")
    assert refused.status_code in (302, 403)
    assert not ModelTraining.objects.filter(name=ENSEMBLE_TRAINING).exists()

    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(f"{VERSIONS}train-ensemble/").status_code == 405  # POST only
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = client.post(f"{VERSIONS}train-ensemble/", follow=True)

    assert response.status_code == 200
    assert len(enqueued) == 1
    assert "is training on the slow queue" in response.content.decode()
    page = client.get(VERSIONS).content.decode()
    assert "Train the transformer ensemble" in page
    assert "Transformer ensemble training: requested" in page


@pytest.mark.django_db
def test_an_ensemble_whose_transformer_cannot_run_falls_back_to_its_tfidf_model(caplog):
    ensemble = small_ensemble()
    broken = replace(ensemble, transformer=replace(ensemble.transformer, onnx_model=b"not onnx"))
    register_model_version(model=broken, name="broken-ensemble", training_data_hash="x")
    items = [TriageInput(body="burning when I pee since yesterday")]

    results = predict_triage(items)

    expected = classify_items(ensemble.tfidf, items)[0][0]
    assert results[0].prediction == expected
    assert "the transformer failed" in caplog.text


@pytest.mark.django_db
def test_classify_messages_fast_uses_the_active_ensemble_s_tfidf_model(tmp_path):
    ensemble = small_ensemble()
    register_model_version(model=ensemble, name="ensemble", training_data_hash="x")
    bodies = [r.body for r in small_training_corpus()]
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(json.dumps({"id": str(i), "body": b}) for i, b in enumerate(bodies)) + "\n"
    )

    outputs = {}
    for fast in (False, True):
        output = tmp_path / f"out-{fast}.jsonl"
        call_command(
            "classify_messages", str(source), "--output", str(output), *(["--fast"] * fast)
        )
        outputs[fast] = [json.loads(line) for line in output.read_text().splitlines()]

    items = [TriageInput(body=b) for b in bodies]
    for fast, model in ((True, ensemble.tfidf), (False, ensemble)):
        expected = [p.acuity for p, _ in classify_items(model, items)]
        assert [row["acuity"] for row in outputs[fast]] == expected


@pytest.mark.django_db
def test_the_command_will_not_train_the_vote_on_reused_results_without_imitations(
    settings, tmp_path
):
    from django.core.management.base import CommandError

    from triage.ml.corpus import load_corpus
    from triage.ml.ensemble import out_of_fold_path

    n = len(load_corpus(settings.TRIAGE_CORPUS_DIR))
    for fold, held in enumerate(np.array_split(np.arange(n), 4)):
        flat = _flat_transformer_out_of_fold(len(held))
        np.savez(
            out_of_fold_path(tmp_path, seed=0, folds=4, fold=fold),
            held=held,
            **{f"int8_{head}": values for head, values in flat.items()},
        )

    with pytest.raises(CommandError, match="holds no imitated embeddings"):
        call_command(
            "train_triage_model", "--variant", ENSEMBLE_VARIANT, "--reuse-out-of-fold", tmp_path
        )
