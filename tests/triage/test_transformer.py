"""The fine-tuned transformer: training runs, the ONNX graph serves what PyTorch
computes, and an ensemble version classifies without PyTorch."""

import io
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

from tests.triage.transformer_factories import (
    ensemble_with_an_encoder,
    minilm_encoder,
    one_step_network,
    small_ensemble,
    training_texts,
)
from triage.ml.classifier import TriageInput, message_text
from triage.ml.corpus import load_corpus
from triage.ml.decision import classify_items
from triage.ml.ensemble import average
from triage.ml.neighbours import blend
from triage.ml.transformer.fine_tuning import (
    FineTuning,
    fine_tune,
    predict,
    pretrained_embeddings,
    to_serving,
)
from triage.ml.transformer.network import pretrained

WITHOUT_PYTORCH = Path(__file__).resolve().parents[1] / "without_pytorch"
SAMPLE = [
    "crushing chest pain right now",
    "Refill\ncan I get my lisinopril refilled, I have a week left",
    "Pregunta\nme duele la cabeza desde ayer y tengo fiebre de 38.5",
    "what is noonan syndrome? " * 60,  # longer than 128 tokens: truncated the same way
    "a",
    "Ünïcödé 🙂 zzzqqq",
]


def test_fine_tuning_a_few_dozen_rows_for_one_step_moves_the_encoder_and_the_heads():
    rows = training_texts()
    assert 20 <= len(rows) <= 100

    tuned = one_step_network()

    start = pretrained(seed=0)
    changed = [
        name
        for name, value in tuned.state_dict().items()
        if not np.allclose(value.numpy(), start.state_dict()[name].numpy())
    ]
    assert any(n.startswith("layers.5.") for n in changed)
    assert {"acuity.weight", "service_level.weight", "evisit.weight"} <= set(changed)
    assert "imitation.weight" in changed  # learning pretrained MiniLM's embeddings
    assert "word.weight" not in changed  # word embeddings stay frozen
    p = predict(tuned, SAMPLE)
    assert np.allclose(p["acuity"].sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(p["service_level"].sum(axis=1), 1.0, atol=1e-5)
    assert ((p["evisit_candidate"] > 0) & (p["evisit_candidate"] < 1)).all()
    assert np.allclose(np.linalg.norm(p["embedding"], axis=1), 1.0, atol=1e-5)


def test_before_fine_tuning_the_imitation_is_pretrained_minilm_s_own_embedding():
    # The identity to start from, and the targets the imitation loss pulls towards, are
    # in the same space as the neighbours' pool: pretrained_embeddings.
    untrained = predict(pretrained(seed=0), SAMPLE)["embedding"]

    assert np.abs(untrained - pretrained_embeddings(SAMPLE)).max() < 1e-5


def test_without_an_imitation_weight_the_imitation_is_not_trained():
    tuned = fine_tune(
        training_texts(), seed=0, settings=FineTuning(max_steps=1, soup=1, imitation_weight=0.0)
    )

    assert np.array_equal(tuned.imitation.weight.detach().numpy(), np.eye(384, dtype=np.float32))


def test_a_soup_is_the_weight_by_weight_mean_of_its_fine_tunes():
    rows = training_texts()
    one = FineTuning(max_steps=1, batch_size=16, soup=1)
    alone = [fine_tune(rows, seed=seed, settings=one) for seed in (7, 1007)]
    steps = []

    soup = fine_tune(
        rows,
        seed=7,
        settings=replace(one, soup=2),
        progress=lambda step, total: steps.append((step, total)),
    )

    assert steps == [(1, 2), (2, 2)]
    first, second = (m.state_dict() for m in alone)
    assert not np.allclose(first["acuity.weight"].numpy(), second["acuity.weight"].numpy())
    for name, value in soup.state_dict().items():
        expected = (first[name].numpy() + second[name].numpy()) / 2
        assert np.allclose(value.numpy(), expected, atol=1e-6), name


def test_the_onnx_graph_gives_the_pytorch_probabilities_within_one_thousandth():
    network = one_step_network()
    expected = predict(network, SAMPLE)

    served, imitation = to_serving(network, quantize=False).probabilities_and_imitation(SAMPLE)

    for head in served:
        assert np.abs(served[head] - expected[head]).max() < 1e-3, head
    assert np.abs(imitation - expected["embedding"]).max() < 1e-3


def test_the_encoder_graph_gives_pretrained_minilm_s_unit_embeddings_within_one_thousandth():
    import torch

    from triage.ml.transformer.fine_tuning import UnitEmbedding, tokenizer_json
    from triage.ml.transformer.serving import pad

    encoder = minilm_encoder(quantize=False)
    ids = encoder.token_ids(SAMPLE)
    with torch.no_grad():
        input_ids, mask = (torch.from_numpy(a) for a in pad(ids))
        expected = UnitEmbedding(pretrained().eval())(input_ids, mask).numpy()

    served = encoder.embeddings(SAMPLE)

    assert encoder.tokenizer_json == tokenizer_json()
    assert served.shape == (len(SAMPLE), 384)
    assert np.abs(served - expected).max() < 1e-3
    assert np.allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)
    # Not fine-tuned: the same meaning lies closer than another topic.
    same, other = encoder.embeddings(
        ["I have crushing pain in my chest", "I need to pay my parking bill"]
    )
    assert float(served[0] @ same) > float(served[0] @ other) + 0.2


def test_batches_pad_to_their_own_length_without_changing_a_message_s_probabilities():
    # The float graph: int8's dynamic quantization scales activations per group, so there
    # a message's probabilities move by about 0.01 with its group (docs/triage.md).
    heads = small_ensemble(quantize=False).transformer
    alone = [heads.probabilities([text]) for text in SAMPLE]

    together = heads.probabilities(SAMPLE)

    for i, single in enumerate(alone):
        for head in together:
            assert np.allclose(together[head][i], single[head][0], atol=1e-5), (i, head)


def test_sessions_side_by_side_give_each_message_what_one_session_gives_it():
    # The int8 graph, which depends on a message's group: the groups are the same however
    # many sessions run them, so the probabilities are too.
    texts = [f"{text} {n}" for n in range(7) for text in SAMPLE]  # 42 messages, 11 groups
    one, two = (
        replace(small_ensemble(quantize=True).transformer, threads=threads) for threads in (1, 2)
    )

    alone, side_by_side = one.probabilities(texts), two.probabilities(texts)

    assert len(two._ready()[0]) == 2
    for head in alone:
        assert np.array_equal(alone[head], side_by_side[head]), head


def test_an_ensemble_pickles_without_its_session_and_predicts_the_same_after_loading():
    ensemble = small_ensemble()
    items = [TriageInput(body=t) for t in SAMPLE]
    before = ensemble.predict(items)
    buffer = io.BytesIO()
    joblib.dump(ensemble, buffer)

    loaded = joblib.load(io.BytesIO(buffer.getvalue()))

    assert loaded.transformer._session is None
    assert loaded.neighbours.encoder is None  # the transformer's graph asks the vote
    assert loaded.predict(items) == before


def test_a_version_whose_vote_asks_with_a_second_graph_still_classifies_as_it_did():
    ensemble = ensemble_with_an_encoder()
    items = [TriageInput(body=t) for t in SAMPLE]
    texts = [message_text(i.subject, i.body) for i in items]
    probabilities, imitation = ensemble.transformer.probabilities_and_imitation(texts)
    buffer = io.BytesIO()
    joblib.dump(ensemble, buffer)

    loaded = joblib.load(io.BytesIO(buffer.getvalue()))

    assert imitation is None  # three outputs, as graphs were before the imitation
    votes = ensemble.neighbours.pool.vote(minilm_encoder().embeddings(texts))
    expected = blend(
        average(ensemble.tfidf.probabilities(items), probabilities, ensemble.weights),
        votes,
        ensemble.neighbours.weight,
    )
    np.testing.assert_allclose(loaded.probabilities(items)["acuity"], expected["acuity"])


def test_an_ensemble_loads_and_classifies_in_a_process_where_pytorch_cannot_be_imported(
    tmp_path,
):
    ensemble = small_ensemble()
    artifact = tmp_path / "ensemble.joblib"
    joblib.dump(ensemble, artifact)
    items = [TriageInput(body=t) for t in SAMPLE]
    expected = [p.acuity for p, _ in classify_items(ensemble, items)]
    script = textwrap.dedent(
        f"""
        import json, sys
        try:
            import torch
        except ModuleNotFoundError:
            pass
        else:
            raise SystemExit("PyTorch imported: the blocker is not in place")
        import joblib
        from triage.ml.classifier import TriageInput
        from triage.ml.decision import classify_items
        model = joblib.load({str(artifact)!r})
        items = [TriageInput(body=t) for t in {SAMPLE!r}]
        print(json.dumps({{
            "acuity": [p.acuity for p, _ in classify_items(model, items)],
            "torch_loaded": any(m == "torch" or m.startswith("torch.") for m in sys.modules),
        }}))
        """
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(WITHOUT_PYTORCH)},
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"acuity": expected, "torch_loaded": False}


def test_the_corpus_has_one_format_with_no_subject_line_inside_a_body(settings):
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)

    assert not [r.id for r in rows if "SUBJECT:" in r.body or r.body.startswith("MESSAGE:")]
    assert any(r.subject and r.id.startswith("rq-") for r in rows)  # the parsed real ones


@pytest.mark.parametrize("fast", [False, True])
def test_the_fast_path_of_an_ensemble_is_its_own_tfidf_model(fast):
    from triage.model_registry import fast_path

    ensemble = small_ensemble()
    model = fast_path(ensemble) if fast else ensemble
    assert (model is ensemble.tfidf) is fast
