"""The neighbours' vote (triage/ml/neighbours.py): the nearest labelled messages' labels,
weighted by closeness, and out of fold without any message hearing its own label."""

from dataclasses import replace

import numpy as np
import pytest

from tests.triage.factories import small_training_corpus
from triage.ml.neighbours import NeighbourPool, blend, out_of_fold_votes


def _unit(rows: int, dimensions: int = 8, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=(rows, dimensions))
    return (values / np.linalg.norm(values, axis=1, keepdims=True)).astype(np.float32)


def _rows(acuities, service_level="nurse"):
    base = small_training_corpus()[0]
    return [
        replace(base, id=f"m-{i}", acuity=a, service_level=service_level, evisit_candidate=False)
        for i, a in enumerate(acuities)
    ]


def test_the_nearest_messages_vote_each_weighted_by_how_close_it_is():
    embeddings = np.eye(3, dtype=np.float32)
    pool = replace(
        NeighbourPool.of(_rows(["emergent", "urgent", "routine"]), embeddings), neighbours=2
    )
    # Closest to the emergent row, a little less to the urgent one, far from routine.
    message = np.array([[0.8, 0.6, 0.0]], dtype=np.float32)

    votes = pool.vote(message)

    emergent, urgent, routine = votes["acuity"][0]
    assert routine == 0.0  # not among the two nearest
    assert emergent > 0.95
    assert emergent + urgent == pytest.approx(1.0)
    assert votes["service_level"][0] == pytest.approx([0.0, 0.0, 1.0, 0.0])
    assert votes["evisit_candidate"][0] == 0.0
    cooler = replace(pool, temperature=10.0).vote(message)["acuity"][0]
    assert 0.5 < cooler[0] < 0.55  # a high temperature weighs them nearly alike


def test_out_of_fold_no_message_hears_its_own_label():
    acuities = ["emergent"] + ["routine"] * 7
    embeddings = _unit(8)
    embeddings[4] = embeddings[0]  # a routine twin of the emergent message
    pool = NeighbourPool.of(_rows(acuities), embeddings)
    folds = [[0, 1, 2, 3], [4, 5, 6, 7]]

    votes = out_of_fold_votes(pool, folds, training_only=None)

    # Row 0's only emergent voter would be itself: none of its voters is emergent.
    assert votes["acuity"][0, 0] == 0.0
    # Its twin, in the other fold, hears row 0 loudest.
    assert votes["acuity"][4, 0] > 0.9
    # Every corpus row voted on, and the shares sum to one.
    assert np.allclose(votes["acuity"].sum(axis=1), 1.0)


def test_training_only_rows_vote_in_every_fold_and_are_never_voted_on():
    embeddings = _unit(6, seed=1)
    pool = NeighbourPool.of(_rows(["routine"] * 6), embeddings)
    written = NeighbourPool.of(_rows(["emergent"]), embeddings[[2]])
    folds = [[0, 1, 2], [3, 4, 5]]

    votes = out_of_fold_votes(pool, folds, training_only=written)

    assert votes["acuity"].shape == (6, 3)  # the corpus rows only
    assert votes["acuity"][2, 0] > 0.9  # its written twin votes emergent
    assert out_of_fold_votes(pool, folds, training_only=None)["acuity"][2, 0] == 0.0


def test_a_row_can_ask_with_another_embedding_than_its_own_in_the_pool():
    # As a held-out message asks with its fold's transformer's imitation of its
    # embedding: here row 1 asks with the only emergent row's.
    acuities = ["routine", "routine", "routine", "routine", "routine", "emergent"]
    embeddings = _unit(6, seed=2)
    pool = NeighbourPool.of(_rows(acuities), embeddings)
    queries = embeddings.copy()
    queries[1] = embeddings[5]
    folds = [[0, 1, 2], [3, 4, 5]]

    asked = out_of_fold_votes(pool, folds, training_only=None, queries=queries)
    own = out_of_fold_votes(pool, folds, training_only=None)

    assert asked["acuity"][1, 0] > 0.9
    assert own["acuity"][1, 0] < 0.5
    np.testing.assert_array_equal(asked["acuity"][[0, 2, 3, 4, 5]], own["acuity"][[0, 2, 3, 4, 5]])


def test_a_pool_refuses_embeddings_that_do_not_match_its_messages():
    with pytest.raises(ValueError, match="3 messages but 2 embeddings"):
        NeighbourPool.of(_rows(["routine"] * 3), _unit(2))


def test_blend_gives_the_vote_its_share_of_every_head():
    others = {"acuity": np.array([[0.0, 0.0, 1.0]]), "evisit_candidate": np.array([0.5])}
    votes = {"acuity": np.array([[1.0, 0.0, 0.0]]), "evisit_candidate": np.array([1.0])}

    blended = blend(others, votes, 0.2)

    assert blended["acuity"][0] == pytest.approx([0.2, 0.0, 0.8])
    assert blended["evisit_candidate"][0] == pytest.approx(0.6)
