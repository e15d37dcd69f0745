"""Hand-made cue features for the triage model, next to the TF-IDF n-grams. Pure: no ORM.

The n-grams see words; they do not see the patient's chemotherapy flag or message-level
cues such as "since this morning" against "for months", a negation, or a message that
only asks a general question. Each cue is one binary column. (Red-flag hits as columns
were tried too and made acuity much worse: docs/triage.md.)
"""

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from triage.ml.redflags import normalize
from triage.ml.types import TriageInput

_CUES = {
    # time: happening now or newly
    "now": r"\b(?:right now|now|today|tonight|this (?:morning|afternoon|evening)|currently"
    r"|hoy|ahora|esta (?:manana|tarde|noche)|anoche|last night)\b",
    "recent_onset": r"\b(?:since (?:yesterday|last night|this morning|\w+day)|started "
    r"(?:yesterday|today|this)|(?:\d+|a few|few|couple of|two|three) (?:hours?|days?)"
    r"|desde (?:ayer|anoche|hace \w+ (?:horas|dias)))\b",
    "long_duration": r"\b(?:for (?:weeks|months|years)|(?:\d+|several|few|couple of) "
    r"(?:weeks|months|years)|semanas|meses)\b",
    "worsening": r"\b(?:worse|worsening|getting worse|spreading|severe|unbearable|intense"
    r"|can.?t sleep|peor|empeora\w*|fuerte|insoportable)\b",
    "new_symptom": r"\b(?:new|sudden(?:ly)?|nuevo|nueva|de repente)\b",
    "negation": r"\b(?:no|not|denies|without|never|sin|nunca)\b",
    "past": r"\b(?:ago|last (?:year|month|week)|used to|history of|previously|resolved"
    r"|went away|hace (?:anos|meses))\b",
    "question_general": r"^(?:what|what's|how|why|where|who|which|is there|are there|can you "
    r"tell|i would like (?:to know|information)|i need information|que es|donde)\b",
    "asks_doctor": r"\b(?:doctor|dr\.?|physician|oncologist|provider|medico|doctora?)\b",
    "medication_supply": r"\b(?:run(?:ning)? out|ran out|last (?:pill|dose)|refill|se me acaba"
    r"|resurtir)\b",
    "thanks": r"\b(?:thank|thanks|gracias)\b",
    "symptom": r"\b(?:pain|hurts?|fever|vomit\w*|nause\w*|diarrhea|bleed\w*|blood|swell\w*"
    r"|swollen|rash|cough\w*|dizz\w*|short(?:ness)? of breath|infect\w*|pus|red(?:ness)?"
    r"|dolor|duele|fiebre|vomit\w*|sangr\w*|hinchad\w*|tos|mareo\w*)\b",
}
_COMPILED = {name: re.compile(pattern) for name, pattern in _CUES.items()}
CUE_NAMES = tuple(_CUES)
FEATURE_NAMES = (
    *(f"cue:{n}" for n in CUE_NAMES),
    "cue:question_only",
    "cue:short",
    "cue:long",
    "patient:on_chemotherapy",
)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _row(item: TriageInput) -> list[int]:
    text = normalize(f"{item.subject}\n{item.body}" if item.subject else item.body)
    body = normalize(item.body).strip()
    on = [_INDEX[f"cue:{n}"] for n, pattern in _COMPILED.items() if pattern.search(text)]
    if body.endswith("?") and not _COMPILED["symptom"].search(text):
        on.append(_INDEX["cue:question_only"])
    words = len(text.split())
    if words <= 8:
        on.append(_INDEX["cue:short"])
    elif words >= 80:
        on.append(_INDEX["cue:long"])
    if item.on_chemotherapy:
        on.append(_INDEX["patient:on_chemotherapy"])
    return sorted(on)


def cue_features(items: Sequence[TriageInput], weight: float = 1.0) -> sp.csr_matrix:
    """One row per item, one binary column per entry of FEATURE_NAMES (times `weight`)."""
    indptr, indices = [0], []
    for item in items:
        indices.extend(_row(item))
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.full(len(indices), weight), np.asarray(indices, dtype=np.int64), indptr),
        shape=(len(items), len(FEATURE_NAMES)),
    )
