"""Required literals of a regular expression: a cheap, exact prefilter. Pure.

`required_literals(pattern)` reads off the parsed pattern a set of strings such that every
match of the pattern contains at least one of them (or None when it cannot tell). A text
that contains none of them cannot match, so the regex search can be skipped without
changing any result. `build_literal_index` puts the literals of many patterns into one
trie-shaped regex that finds all of them in one scan of the text. Python's re cannot skip
ahead for patterns that start with a word boundary (`\\bchest...`), which is how most
red-flag phrases start, so each of their searches tries every alternative at every
position; the one literal scan is several times cheaper than the searches it avoids.

Sound by construction: anything not understood contributes no requirement.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from re import _constants as sre
from re import _parser as sre_parse

MAX_ALTERNATIVES = 64
MAX_CLASS_SIZE = 10  # a character class of at most this many characters spells each one
_ZERO_WIDTH = {sre.AT, sre.ASSERT, sre.ASSERT_NOT}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}

Literals = frozenset[str]


def _exact(op, av) -> Literals | None:
    """The finite set of strings this item matches, or None."""
    if op is sre.LITERAL:
        return frozenset([chr(av)])
    if op in _ZERO_WIDTH:
        return frozenset([""])  # consumes nothing: its neighbours are contiguous
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return None if add_flags & re.IGNORECASE else _exact_sequence(sub)
    if op is sre.BRANCH:
        alternatives = [_exact_sequence(branch) for branch in av[1]]
        if any(a is None for a in alternatives):
            return None
        union = frozenset().union(*alternatives)
        return union if len(union) <= MAX_ALTERNATIVES else None
    if op is sre.IN:
        return _character_class(av)
    if op in _REPEATS and av[1] <= 1:  # x? (or x{1}): nothing, or x once
        item = _exact_sequence(av[2])
        if item is None:
            return None
        return item if av[0] >= 1 else item | {""}
    return None


def _character_class(members) -> Literals | None:
    chars: set[str] = set()
    for op, av in members:
        if op is sre.LITERAL:
            chars.add(chr(av))
        elif op is sre.RANGE and av[1] - av[0] < MAX_CLASS_SIZE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, categories (\d, \w), big ranges
            return None
    return frozenset(chars) if 0 < len(chars) <= MAX_CLASS_SIZE else None


def _concatenate(left: Literals, right: Literals) -> Literals | None:
    if len(left) * len(right) > MAX_ALTERNATIVES:
        return None
    return frozenset(a + b for a, b in product(left, right))


def _exact_sequence(items) -> Literals | None:
    result: Literals | None = frozenset([""])
    for op, av in items:
        item = _exact(op, av)
        if item is None or result is None:
            return None
        result = _concatenate(result, item)
    return result


def _required(op, av) -> Literals | None:
    """Strings of which every match of this (non-exact) item contains one, or None."""
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return None if add_flags & re.IGNORECASE else _required_sequence(sub)
    if op is sre.BRANCH:
        alternatives = [_required_sequence(branch) for branch in av[1]]
        if any(a is None for a in alternatives):
            return None
        return frozenset().union(*alternatives)
    if op in _REPEATS and av[0] >= 1:
        return _required_sequence(av[2])
    return None


def _useful(literals: Literals | None) -> bool:
    return bool(literals) and min(map(len, literals)) > 0


def _required_sequence(items) -> Literals | None:
    candidates: list[Literals] = []
    run: Literals = frozenset([""])  # what the current stretch of exact items spells
    for op, av in items:
        item = _exact(op, av)
        if item is not None:
            joined = _concatenate(run, item)
            if joined is not None:
                run = joined
                continue
            candidates.append(run)
            run = item
            continue
        candidates.append(run)
        run = frozenset([""])
        candidates.append(_required(op, av))
    candidates.append(run)
    useful = [c for c in candidates if _useful(c)]
    if not useful:
        return None
    # The most selective: the set whose shortest string is longest.
    return max(useful, key=lambda c: (min(map(len, c)), -len(c)))


def required_literals(pattern: re.Pattern) -> Literals | None:
    """A set of strings, one of which occurs in every match of `pattern`; or None."""
    if not isinstance(pattern.pattern, str) or pattern.flags & re.IGNORECASE:
        return None
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # a parser change: no prefilter, the regex alone decides
        return None
    return _required_sequence(list(parsed))


@dataclass(frozen=True)
class LiteralIndex:
    """Finds, in one scan of a text, which of several patterns may match it."""

    scanner: re.Pattern  # every literal, as a trie; a lookahead reports overlapping ones
    owners: dict[str, frozenset[re.Pattern]]  # found literal -> patterns it satisfies
    always: frozenset[re.Pattern]  # patterns with no required literal: always searched


def _trie_regex(words: Iterable[str]) -> str:
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        alternatives = [re.escape(char) + build(node[char]) for char in sorted(node) if char]
        if not alternatives:
            return ""
        if "" in node:
            alternatives.append("")  # after the longer ones: the longest literal wins
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    return build(trie)


def build_literal_index(patterns: Iterable[re.Pattern]) -> LiteralIndex:
    required = {pattern: required_literals(pattern) for pattern in patterns}
    literals = sorted({s for found in required.values() if found for s in found})
    owners = {
        literal: frozenset(
            pattern
            for pattern, needed in required.items()
            # at one position the scanner reports the longest literal; the shorter
            # ones starting there are its prefixes
            if needed and any(literal.startswith(n) for n in needed)
        )
        for literal in literals
    }
    return LiteralIndex(
        scanner=re.compile(f"(?=({_trie_regex(literals)}))"),
        owners=owners,
        always=frozenset(p for p, needed in required.items() if needed is None),
    )


def possible_patterns(index: LiteralIndex, text: str) -> set[re.Pattern]:
    """The patterns that may match `text`: a superset of those that do."""
    possible = set(index.always)
    for literal in set(index.scanner.findall(text)):
        possible |= index.owners[literal]
    return possible
