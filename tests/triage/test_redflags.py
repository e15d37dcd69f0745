"""Each red flag with a present, a negated, a past-history and a Spanish example."""

from dataclasses import replace

import pytest
from django.conf import settings

from triage.ml.classifier import TriagePrediction
from triage.ml.corpus import load_corpus
from triage.ml.redflags import apply_red_flags, find_red_flags, load_rules


def flags(body: str, *, subject: str = "", on_chemotherapy: bool = False) -> set[str]:
    hits = find_red_flags(subject=subject, body=body, on_chemotherapy=on_chemotherapy)
    return {hit.name for hit in hits}


PRESENT = [
    ("chest_pain", "I've had crushing chest pressure for 30 minutes", False),
    ("stroke_signs", "Her face is drooping on one side and her speech is slurred", False),
    ("severe_shortness_of_breath", "I can't breathe lying down and my lips look blue", False),
    ("fever_on_chemotherapy", "My temp is 38.4 tonight", True),
    ("fever_on_chemotherapy", "Fever of 101.2, I had FOLFOX on Monday", False),
    ("cord_compression", "New back pain since Sunday and now my legs feel weak and numb", False),
    ("gi_bleeding_or_heavy_bleeding", "I threw up blood twice this morning", False),
    ("fainting", "Dad passed out in the kitchen an hour ago", False),
    ("anaphylaxis", "After the shrimp my lips are swollen and my throat feels tight", False),
    ("suicidal_thoughts", "I keep thinking about killing myself", False),
    ("suicidal_thoughts", "My son has had dark thoughts since he lost his job", False),
    ("anaphylaxis", "The pills are causing swelling of my hands, face, throat and tongue", False),
    ("worst_headache", "Sudden headache, the worst headache of my life", False),
    (
        "critical_medicine_running_out",
        "I take my last Eliquis pill tonight, no refills left",
        False,
    ),
]

NEGATED = [
    ("chest_pain", "No chest pain, just a runny nose"),
    ("stroke_signs", "No slurred speech or face drooping, just tired"),
    ("fever_on_chemotherapy", "On chemo, no fever and no chills"),
    ("gi_bleeding_or_heavy_bleeding", "I haven't vomited blood, just nausea"),
    ("fainting", "I did not faint, I just felt tired"),
    ("suicidal_thoughts", "I am not suicidal, just sad about the news"),
    ("anaphylaxis", "No swelling of my lips or tongue, only an itchy arm"),
    ("anaphylaxis", "No swelling of my hands, feet or tongue"),
    ("suicidal_thoughts", "I am not having dark thoughts, just tired"),
]

HISTORICAL = [
    ("chest_pain", "I had chest pain last year, the cardiologist said it was reflux"),
    ("stroke_signs", "Years ago my face was drooping from Bell's palsy, can I get records"),
    ("fainting", "I fainted in 2019 and they did a tilt table test, fine now"),
    ("fever_on_chemotherapy", "Last month I had a fever after chemo and it resolved"),
    ("gi_bleeding_or_heavy_bleeding", "Back in March I had black stools from iron pills"),
    ("suicidal_thoughts", "Years ago I had dark thoughts after my divorce"),
]

SPANISH = [
    ("chest_pain", "Me duele el pecho desde hace una hora", False),
    ("stroke_signs", "Mi papa tiene la cara caida y habla arrastrada", False),
    ("severe_shortness_of_breath", "No puedo respirar bien, me ahogo", False),
    ("fever_on_chemotherapy", "Tengo fiebre de 38.5 y estoy en quimio", False),
    ("gi_bleeding_or_heavy_bleeding", "Estoy vomitando sangre desde anoche", False),
    ("fainting", "Mi mama se desmayo en el baño", False),
    ("anaphylaxis", "Se me estan hinchando los labios y la lengua", False),
    ("suicidal_thoughts", "Ya no quiero vivir, pienso en quitarme la vida", False),
    ("suicidal_thoughts", "Mi hijo tiene malos pensamientos y no sale de su cuarto", False),
    ("anaphylaxis", "Tengo hinchazon de la cara, los labios y la lengua", False),
    ("worst_headache", "Tengo el peor dolor de cabeza de mi vida", False),
    ("critical_medicine_running_out", "Se me acaba la insulina hoy y no tengo refill", False),
]

SPANISH_NEGATED_OR_PAST = [
    ("chest_pain", "No tengo dolor de pecho, solo tos"),
    ("stroke_signs", "Mi papa tuvo un derrame hace años, necesito sus récords"),
    ("fever_on_chemotherapy", "Estoy en quimio y no tengo fiebre"),
]


@pytest.mark.parametrize(("flag", "body", "on_chemo"), PRESENT)
def test_present_red_flag_is_found(flag, body, on_chemo):
    assert flag in flags(body, on_chemotherapy=on_chemo)


@pytest.mark.parametrize(("flag", "body"), NEGATED)
def test_negated_red_flag_is_not_found(flag, body):
    assert flag not in flags(body, on_chemotherapy=True)


@pytest.mark.parametrize(("flag", "body"), HISTORICAL)
def test_past_history_is_not_a_red_flag(flag, body):
    assert flag not in flags(body, on_chemotherapy=True)


@pytest.mark.parametrize(("flag", "body", "on_chemo"), SPANISH)
def test_spanish_red_flag_is_found(flag, body, on_chemo):
    assert flag in flags(body, on_chemotherapy=on_chemo)


@pytest.mark.parametrize(("flag", "body"), SPANISH_NEGATED_OR_PAST)
def test_spanish_negated_or_past_is_not_found(flag, body):
    assert flag not in flags(body, on_chemotherapy=True)


def test_fever_is_emergent_only_for_a_patient_on_chemotherapy():
    assert "fever_on_chemotherapy" in flags("Fever of 101 since noon", on_chemotherapy=True)
    assert "fever_on_chemotherapy" not in flags("Fever of 101 since noon", on_chemotherapy=False)
    assert "fever" in flags("Fever of 101 since noon", on_chemotherapy=False)  # still urgent


def test_a_red_flag_buried_after_a_refill_request_is_found():
    body = (
        "Please refill my atorvastatin 40, 30 day supply to the Walgreens on Main. "
        "Thanks so much. Oh, probably nothing, but my chest has felt tight since lunch."
    )
    assert "chest_pain" in flags(body, subject="Refill")


def test_critical_medicine_with_weeks_left_is_not_a_red_flag():
    assert "critical_medicine_running_out" not in flags("I have two weeks of Xarelto left")


def _prediction(acuity: str, level: str = "clerical") -> TriagePrediction:
    return TriagePrediction(acuity, level, True, 0.9, 0.9, 0.9, routing_service_level=level)


def test_red_flags_raise_acuity_and_send_emergent_to_nurse_without_evisit():
    hits = find_red_flags(subject="", body="crushing chest pain now")
    raised = apply_red_flags(_prediction("routine"), hits)
    assert (raised.acuity, raised.service_level, raised.evisit_candidate) == (
        "emergent",
        "nurse",
        False,
    )


def test_red_flags_never_lower_acuity():
    hits = find_red_flags(subject="", body="my last Keppra pill is tonight")
    assert {h.acuity for h in hits} == {"urgent"}
    assert apply_red_flags(_prediction("emergent", "nurse"), hits).acuity == "emergent"


def test_literal_prefilter_gives_the_same_hits_as_searching_every_group_on_the_corpus():
    rules = load_rules()
    reference = replace(rules, prefilter=None)  # every group searched on every message
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    for row in rows:
        for on_chemotherapy in {row.on_chemotherapy, True}:
            kwargs = {"subject": row.subject, "body": row.body, "on_chemotherapy": on_chemotherapy}
            assert find_red_flags(**kwargs, rules=rules) == find_red_flags(
                **kwargs, rules=reference
            ), row.id
