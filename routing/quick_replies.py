"""Quick replies: the wording of a reply a person starts from, never sends unread.

Pure: the placeholders a template may use, how they are checked and filled, and the
built-in templates every clinic has (in English and Spanish) besides its own
(routing.models.QuickReply). Filling leaves a placeholder whose value is not known (a
clinic with no phone on record) as it is, so the person sees what to fill in before
sending; the app never sends a quick reply on its own (routing.work_items.respond sends
what the person submits).
"""

import re
from dataclasses import dataclass

PATIENT_FIRST_NAME = "patient_first_name"
CLINIC_PHONE = "clinic_phone"
STAFF_NAME = "staff_name"
PLACEHOLDERS = (PATIENT_FIRST_NAME, CLINIC_PHONE, STAFF_NAME)
LANGUAGES = {"en": "English", "es": "Español"}

# Anything in single braces is meant as a placeholder: an unknown one is refused when the
# template is saved, rather than reaching a patient as "{patient_last_name}".
_BRACED = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Template:
    key: str  # stable: "builtin:<slug>" or "clinic:<id>"
    title: str
    language: str
    body: str
    roles: tuple[str, ...] = ()  # () = every role of the clinic

    def offered_to(self, role: str) -> bool:
        return not self.roles or role in self.roles


@dataclass(frozen=True)
class Filled:
    key: str
    title: str
    language: str
    body: str
    missing: tuple[str, ...]  # placeholders left in the text: no value known


def unknown_placeholders(body: str) -> list[str]:
    """The braced names in `body` that are not placeholders, in order, once each."""
    found = []
    for name in _BRACED.findall(body):
        if name not in PLACEHOLDERS and name not in found:
            found.append(name)
    return found


def placeholder_problem(body: str) -> str | None:
    """A plain sentence saying what is wrong with the placeholders of `body`, or None."""
    unknown = unknown_placeholders(body)
    if not unknown:
        return None
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    names = ", ".join("{" + name + "}" for name in unknown)
    plural = "s" if len(unknown) > 1 else ""
    return f"Unknown placeholder{plural} {names}. A quick reply may use only {allowed}."


def fill(template: Template, values: dict[str, str]) -> Filled:
    """The template's text with every placeholder that has a value replaced, in one pass
    (not str.format, nor one replace after another: a brace in a value is text, never a
    placeholder)."""
    known = {name: (values.get(name) or "").strip() for name in PLACEHOLDERS}
    missing: list[str] = []

    def value_of(match: re.Match) -> str:
        name = match.group(1)
        if name not in known:
            return match.group(0)
        if not known[name]:
            if name not in missing:
                missing.append(name)
            return match.group(0)
        return known[name]

    body = _BRACED.sub(value_of, template.body)
    ordered = tuple(name for name in PLACEHOLDERS if name in missing)
    return Filled(template.key, template.title, template.language, body, ordered)


def language_of(preferred_language: str) -> str:
    """The template language for a patient's preferred language ("es-MX" -> "es");
    English for any language no template is written in."""
    base = (preferred_language or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else "en"


def order_for(templates: list[Template], *, language: str) -> list[Template]:
    """The patient's language first, then the others; by title within a language."""
    return sorted(templates, key=lambda t: (t.language != language, t.language, t.title.lower()))


def first_name(full_name: str) -> str:
    return full_name.strip().split()[0] if full_name and full_name.strip() else ""


# Results and refills are protocol tasks (an MA's, a nurse's or a physician's): a clerk
# is never offered wording that tells a patient about a result (domain.md, care team).
CLINICAL = ("ma", "nurse", "physician")
BUILT_IN = (
    Template(
        "builtin:appointment-received-en",
        "Appointment request received",
        "en",
        "Hello {patient_first_name}, we received your appointment request. Our scheduling "
        "team will contact you within two business days with a time. If you need to speak "
        "with us sooner, call {clinic_phone}.\n\n{staff_name}",
    ),
    Template(
        "builtin:appointment-received-es",
        "Solicitud de cita recibida",
        "es",
        "Hola {patient_first_name}, recibimos su solicitud de cita. Nuestro equipo de citas "
        "se comunicará con usted en un plazo de dos días hábiles para darle una hora. Si "
        "necesita hablar con nosotros antes, llame al {clinic_phone}.\n\n{staff_name}",
    ),
    Template(
        "builtin:refill-sent-en",
        "Refill sent to pharmacy",
        "en",
        "Hello {patient_first_name}, your refill request has been sent to your pharmacy. "
        "Please allow one business day before picking it up. If the pharmacy has not "
        "received it, call us at {clinic_phone}.\n\n{staff_name}",
        CLINICAL,
    ),
    Template(
        "builtin:refill-sent-es",
        "Resurtido enviado a la farmacia",
        "es",
        "Hola {patient_first_name}, su solicitud de resurtido se envió a su farmacia. "
        "Espere un día hábil antes de recogerlo. Si la farmacia no lo ha recibido, "
        "llámenos al {clinic_phone}.\n\n{staff_name}",
        CLINICAL,
    ),
    Template(
        "builtin:lab-results-normal-en",
        "Lab results normal",
        "en",
        "Hello {patient_first_name}, your recent lab results are within the normal range. "
        "No change to your care is needed. If you have questions, reply here or call "
        "{clinic_phone}.\n\n{staff_name}",
        CLINICAL,
    ),
    Template(
        "builtin:lab-results-normal-es",
        "Resultados de laboratorio normales",
        "es",
        "Hola {patient_first_name}, sus resultados de laboratorio recientes están dentro "
        "del rango normal. No se necesita ningún cambio en su atención. Si tiene preguntas, "
        "responda aquí o llame al {clinic_phone}.\n\n{staff_name}",
        CLINICAL,
    ),
)
