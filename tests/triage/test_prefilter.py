import re

import pytest

from triage.ml.prefilter import build_literal_index, possible_patterns, required_literals


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bchest.{0,30}\b(?:pain|pressure)", {"chest"}),
        (r"\bend(?:ing)? (?:it|things)\b", {"end it", "ending it", "end things", "ending things"}),
        (r"\b3[89][.,]\d", {"38.", "38,", "39.", "39,"}),
        (r"(?:xy)?z", {"xyz", "z"}),
        (r"(?:fever|\d+ ?f)\b", {"fever", "f", " f"}),
        (r"(?:fever|\d+)\b", None),  # one alternative has no literal
        (r"x?", None),
        (r"(?i)chest", None),  # case-insensitive: literals would not be exact
        (r"ab(?i:cd)", {"ab"}),
        (r"[^a]bc", {"bc"}),
    ],
)
def test_required_literals(pattern, expected):
    found = required_literals(re.compile(pattern))
    assert (set(found) if found is not None else None) == expected


TEXTS = [
    "crushing chest pain",
    "my chest. pressure",
    "ending things",
    "ending thing",
    "temp 38,5",
    "xz",
    "z",
    "fever",
    "100f",
    "100",
    "nothing here",
    "",
]
PATTERNS = [
    r"\bchest.{0,30}\b(?:pain|pressure)",
    r"\bend(?:ing)? (?:it|things)\b",
    r"\b3[89][.,]\d",
    r"(?:xy)?z",
    r"(?:fever|\d+)\b",
    r"\bche",
    r"chest pain",
]


def test_literal_index_never_drops_a_pattern_that_matches():
    patterns = [re.compile(p) for p in PATTERNS]
    index = build_literal_index(patterns)
    for text in TEXTS:
        possible = possible_patterns(index, text)
        for pattern in patterns:
            if pattern.search(text):
                assert pattern in possible, (pattern.pattern, text)
    assert possible_patterns(index, "nothing here") == {patterns[4]}  # no literal: kept
