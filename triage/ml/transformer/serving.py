"""Serving the fine-tuned transformer with onnxruntime and tokenizers: no PyTorch in web
or worker processes. Pure: no ORM.

A `TransformerHeads` holds its ONNX graph and tokenizer as bytes and text, so it pickles
into the model version's artifact with everything it needs; the onnxruntime session is
built once per process on first use.
"""

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

MAX_TOKENS = 128
# Messages run through the graph in groups of this many, of similar length, so a group
# pads only to its own longest: a random 64 messages hold a 128-token one 85% of the time,
# against a mean of 44 tokens. Measured in calls of 64 on two cores: groups of 64 75
# msg/s, 32 124, 16 176, 8 182, 4 184-191, 2 167, 1 162 (one session of two threads).
GROUP_SIZE = 4


class TransformerUnavailable(RuntimeError):
    pass


@dataclass
class TransformerHeads:
    onnx_model: bytes
    tokenizer_json: str
    max_tokens: int = MAX_TOKENS
    quantized: bool = False
    # Sessions run side by side, one thread each, the groups of a call shared among
    # them; 0: one per core this process may use. A group of four short messages is too
    # small a matrix for two threads to share well, so each core takes whole groups.
    # Transformer alone, calls of 64, two cores: 413 against 395 msg/s for one session of
    # two threads on a quiet machine, 415 against 250 with other work on both cores (a
    # worker shares its cores with PostgreSQL and the web tier).
    threads: int = 0
    _session: object = field(default=None, init=False, repr=False, compare=False)
    _pool: object = field(default=None, init=False, repr=False, compare=False)
    _tokenizer: object = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def _ready(self):
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime
                    from tokenizers import Tokenizer
                except ImportError as exc:  # pragma: no cover - both are main dependencies
                    raise TransformerUnavailable(
                        f"serving the transformer needs {exc.name}"
                    ) from exc
                tokenizer = Tokenizer.from_str(self.tokenizer_json)
                tokenizer.enable_truncation(self.max_tokens)
                tokenizer.no_padding()
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                self._session = tuple(
                    onnxruntime.InferenceSession(
                        self.onnx_model, options, providers=["CPUExecutionProvider"]
                    )
                    for _ in range(self.threads or usable_cores())
                )
                if len(self._session) > 1:
                    self._pool = ThreadPoolExecutor(
                        len(self._session), thread_name_prefix="transformer"
                    )
                self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        _, tokenizer = self._ready()
        return [e.ids for e in tokenizer.encode_batch(list(texts))]

    def probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Per head, class probabilities in the classifier's column order (ACUITY_CLASSES,
        SERVICE_LEVEL_CLASSES, P(e-visit))."""
        return self.probabilities_and_imitation(texts)[0]

    def probabilities_and_imitation(
        self, texts: Sequence[str]
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """The heads' probabilities and, from the same run of the graph, its imitation of
        pretrained MiniLM's unit embedding of each text (None for graphs from before
        2026-12-06's third change, which have no such output)."""
        acuity, level, evisit, *imitation = self.outputs(texts)
        probabilities = {
            "acuity": acuity.astype(np.float64),
            "service_level": level.astype(np.float64),
            "evisit_candidate": evisit.astype(np.float64),
        }
        return probabilities, (imitation[0].astype(np.float32) if imitation else None)

    def outputs(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The graph's outputs, a row per text. Messages are batched by length, so a
        batch pads only to its own longest message."""
        sessions, _ = self._ready()
        ids = self.token_ids(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        groups = [order[start : start + GROUP_SIZE] for start in range(0, len(ids), GROUP_SIZE)]
        results: dict[int, list[np.ndarray]] = {}

        def run(session, share: list[list[int]]) -> None:
            for number, batch in share:
                input_ids, mask = pad([ids[i] for i in batch])
                results[number] = session.run(
                    None, {"input_ids": input_ids, "attention_mask": mask}
                )

        numbered = list(enumerate(groups))
        if self._pool is None or len(groups) <= 1:
            run(sessions[0], numbered)
        else:
            # Each session takes every len(sessions)-th group: the groups, and so each
            # message's outputs, are the same however many sessions run them.
            # onnxruntime lets go of the GIL while a session runs.
            shares = [numbered[k :: len(sessions)] for k in range(len(sessions))]
            list(self._pool.map(run, sessions, shares))
        if not groups:
            return [np.zeros((0, *shape)) for shape in self.output_shapes()]
        outputs = []
        for position in range(len(results[0])):
            first = results[0][position]
            column = np.zeros((len(ids), *first.shape[1:]), dtype=first.dtype)
            for number, batch in numbered:
                column[batch] = results[number][position]
            outputs.append(column)
        return outputs

    def output_shapes(self) -> list[tuple[int, ...]]:
        sessions, _ = self._ready()
        return [tuple(o.shape[1:]) for o in sessions[0].get_outputs()]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_session"] = state["_tokenizer"] = state["_pool"] = None
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pool = None  # versions stored before sessions ran side by side have none
        self._lock = threading.Lock()


@dataclass
class SentenceEncoder(TransformerHeads):
    """all-MiniLM-L6-v2 as it was pretrained, not fine-tuned: one output, each message's
    mean-pooled embedding scaled to unit length, for the neighbours' vote
    (triage/ml/neighbours.py)."""

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        return self.outputs(texts)[0].astype(np.float32)


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def pad(sequences: Sequence[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    length = max(len(s) for s in sequences)
    input_ids = np.zeros((len(sequences), length), dtype=np.int64)
    mask = np.zeros((len(sequences), length), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1
    return input_ids, mask
