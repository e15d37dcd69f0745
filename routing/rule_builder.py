"""A routing rule edited as a form of conditions and actions, with drop-downs of the
clinic's queues and staff by name, instead of raw JSON. The JSON (routing/rules.py)
stays what is stored and what the API gives: the form reads it (`initial_from_json`)
and writes it (`RuleBuilderFields.clean_rule`), and every problem is said in plain words
beside the field it is about."""

from collections.abc import Iterable

from django import forms

from accounts.models import Clinic, Membership
from routing import rules
from routing.clinic_settings import DEFAULT_AUTO_REPLIES
from routing.forms import RuleTrialForm
from routing.models import AutoReplyTemplate, Queue, RoutingRule
from triage.ml.labels import Acuity, ServiceLevel
from triage.ml.redflags import load_rules as load_red_flags

LANGUAGE_CHOICES = [("en", "English"), ("es", "Spanish")]
CONFIDENCE_CHOICES = [
    ("", "—"),
    ("acuity", "acuity"),
    ("service_level", "service level (role)"),
    ("evisit", "e-visit candidate"),
]
CHEMOTHERAPY = "on_chemotherapy"

# Which builder field an error of routing.rules.validate() is about.
CONDITION_FIELDS = {
    "keyword": "if_keyword",
    "category": "if_category",
    "language": "if_language",
    "red_flag": "if_red_flag",
    "acuity": "if_acuity",
    "service_level": "if_service_level",
    "patient_flag": "if_on_chemotherapy",
    "confidence_below": "if_confidence_value",
    "time_of_day": "if_time_from",
}
ACTION_FIELDS = {
    "queue": "then_queue",
    "raise_acuity": "then_raise_acuity",
    "assign_to": "then_assign_to",
    "notify": "then_notify",
    "auto_reply": "then_auto_reply",
}
CONDITION_FIELD_NAMES = (
    "if_keyword",
    "if_category",
    "if_language",
    "if_red_flag",
    "if_acuity",
    "if_service_level",
    "if_on_chemotherapy",
    "if_confidence_label",
    "if_confidence_value",
    "if_time_from",
    "if_time_to",
)
ACTION_FIELD_NAMES = tuple(ACTION_FIELDS.values())


def _words(text: str) -> list[str]:
    """'chest pain, shortness of breath' -> ['chest pain', 'shortness of breath']."""
    parts = text.replace("\n", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def _listed(value) -> list:
    if value in (None, ""):
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _label(name: str) -> str:
    return name.replace("_", " ")


def staff_name(user) -> str:
    return user.get_full_name() or user.username


def red_flag_choices() -> list[tuple[str, str]]:
    names = sorted({flag.name for flag in load_red_flags().flags})
    return [(name, _label(name)) for name in names]


def initial_from_json(conditions: dict | None, action: dict | None) -> dict:
    """The builder's fields for a stored rule."""
    conditions, action = conditions or {}, action or {}
    initial: dict = {
        "if_keyword": ", ".join(_listed(conditions.get("keyword"))),
        "if_category": ", ".join(_listed(conditions.get("category"))),
        "if_language": _listed(conditions.get("language")),
        "if_red_flag": _listed(conditions.get("red_flag")),
        "if_acuity": _listed(conditions.get("acuity")),
        "if_service_level": _listed(conditions.get("service_level")),
        "if_on_chemotherapy": CHEMOTHERAPY in _listed(conditions.get("patient_flag")),
    }
    confidence = conditions.get("confidence_below")
    if isinstance(confidence, dict):
        initial["if_confidence_label"] = confidence.get("label", "")
        initial["if_confidence_value"] = confidence.get("value")
    time_of_day = conditions.get("time_of_day")
    if isinstance(time_of_day, dict):
        initial["if_time_from"] = time_of_day.get("from")
        initial["if_time_to"] = time_of_day.get("to")
    initial["then_queue"] = action.get("queue") or ""
    initial["then_raise_acuity"] = action.get("raise_acuity") or ""
    initial["then_assign_to"] = action.get("assign_to") or ""
    initial["then_notify"] = [str(i) for i in _listed(action.get("notify"))]
    initial["then_auto_reply"] = action.get("auto_reply") or ""
    return initial


def _grouped(clinics: list[Clinic], options: dict[int, list[tuple]]) -> list:
    """Choices for one clinic as they are, for several grouped under each clinic's name."""
    if len(clinics) == 1:
        return options.get(clinics[0].pk, [])
    return [(clinic.name, options.get(clinic.pk, [])) for clinic in clinics]


def queue_choices(clinics: Iterable[Clinic]) -> list:
    clinics = list(clinics)
    options: dict[int, list[tuple]] = {}
    queues = Queue.objects.filter(clinic__in=clinics, role__in=ServiceLevel.values).order_by("name")
    for queue in queues:
        options.setdefault(queue.clinic_id, []).append(
            (str(queue.pk), f"{queue.name} ({queue.role})")
        )
    return [("", "— the role's default queue —"), *_grouped(clinics, options)]


def staff_choices(clinics: Iterable[Clinic]) -> list:
    clinics = list(clinics)
    options: dict[int, list[tuple]] = {}
    memberships = (
        Membership.objects.filter(clinic__in=clinics, user__is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    )
    for membership in memberships:
        options.setdefault(membership.clinic_id, []).append(
            (str(membership.user_id), f"{staff_name(membership.user)} ({membership.role})")
        )
    return _grouped(clinics, options)


def auto_reply_choices(clinics: Iterable[Clinic]) -> list:
    names = {name for name, _ in DEFAULT_AUTO_REPLIES}
    names |= set(
        AutoReplyTemplate.objects.filter(clinic__in=list(clinics)).values_list("name", flat=True)
    )
    return [("", "— none —"), *[(n, _label(n)) for n in sorted(names)]]


class RuleBuilderFields(forms.Form):
    """Base of a form that edits a rule: condition rows and action fields. The form
    must call `setup_builder(clinics)` in __init__ and `clean_rule(clinic)` in clean()."""

    if_keyword = forms.CharField(
        required=False,
        label="Words in the message",
        help_text="Any of these, separated by commas (whole words, accents ignored), "
        "e.g. chest pain, port.",
    )
    if_category = forms.CharField(
        required=False,
        label="Category the patient chose",
        help_text="Any of these, separated by commas, e.g. Medication refill.",
    )
    if_language = forms.MultipleChoiceField(
        required=False,
        choices=LANGUAGE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        label="Patient's language is",
    )
    if_red_flag = forms.MultipleChoiceField(
        required=False,
        choices=(),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        label="Red flag found",
        help_text="Any of those chosen (Ctrl or Cmd to choose several).",
    )
    if_acuity = forms.MultipleChoiceField(
        required=False,
        choices=Acuity.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Classified acuity is",
    )
    if_service_level = forms.MultipleChoiceField(
        required=False,
        choices=ServiceLevel.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Classifier routed it to",
    )
    if_on_chemotherapy = forms.BooleanField(required=False, label="Patient is on chemotherapy")
    if_confidence_label = forms.ChoiceField(
        required=False, choices=CONFIDENCE_CHOICES, label="Classifier unsure about"
    )
    if_confidence_value = forms.FloatField(
        required=False,
        label="Unsure means confidence below",
        help_text="A number above 0 and at most 1, e.g. 0.6.",
    )
    if_time_from = forms.TimeField(
        required=False, label="Received from (clinic time)", help_text="HH:MM, e.g. 17:00."
    )
    if_time_to = forms.TimeField(
        required=False,
        label="Received until (clinic time)",
        help_text="HH:MM, e.g. 08:00; may be earlier than the start (over midnight).",
    )

    then_queue = forms.ChoiceField(required=False, choices=(), label="Send to queue")
    then_raise_acuity = forms.ChoiceField(
        required=False,
        choices=[("", "— keep —"), *Acuity.choices],
        label="Raise acuity to",
        help_text="A rule only ever raises acuity, never lowers it.",
    )
    then_assign_to = forms.ChoiceField(
        required=False, choices=(), label="Assign to", help_text="A person of this clinic."
    )
    then_notify = forms.MultipleChoiceField(
        required=False,
        choices=(),
        widget=forms.SelectMultiple(attrs={"size": 5}),
        label="Notify",
        help_text="Staff of this clinic (Ctrl or Cmd to choose several).",
    )
    then_auto_reply = forms.ChoiceField(
        required=False, choices=(), label="Automatic reply to the patient"
    )

    BUILDER_GROUPS = (
        ("When the message… (every filled condition must hold)", CONDITION_FIELD_NAMES),
        ("Then… (at least one action)", ACTION_FIELD_NAMES),
    )

    def setup_builder(self, clinics) -> None:
        clinics = list(clinics)
        self.fields["if_red_flag"].choices = red_flag_choices()
        self.fields["then_queue"].choices = queue_choices(clinics)
        people = staff_choices(clinics)
        self.fields["then_assign_to"].choices = [("", "— nobody —"), *people]
        self.fields["then_notify"].choices = people
        self.fields["then_auto_reply"].choices = auto_reply_choices(clinics)

    def builder_groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.BUILDER_GROUPS]

    def clean_rule(self, clinic: Clinic | None) -> tuple[dict, dict] | None:
        """The rule as its stored JSON, or None with plain errors beside the fields."""
        data = self.cleaned_data
        conditions: dict = {}
        for key in ("keyword", "category"):
            words = _words(data.get(f"if_{key}") or "")
            if words:
                conditions[key] = words
        for key in ("language", "red_flag", "acuity", "service_level"):
            chosen = data.get(f"if_{key}") or []
            if chosen:
                conditions[key] = list(chosen)
        if data.get("if_on_chemotherapy"):
            conditions["patient_flag"] = CHEMOTHERAPY
        label, value = data.get("if_confidence_label"), data.get("if_confidence_value")
        if label or value is not None:
            if not label:
                self.add_error("if_confidence_label", "Choose what the classifier is unsure about.")
            elif value is None:
                self.add_error("if_confidence_value", "Give a confidence, e.g. 0.6.")
            elif not 0 < value <= 1:
                self.add_error("if_confidence_value", "Give a number above 0 and at most 1.")
            else:
                conditions["confidence_below"] = {"label": label, "value": value}
        start, end = data.get("if_time_from"), data.get("if_time_to")
        if start or end:
            if not (start and end):
                field = "if_time_to" if start else "if_time_from"
                self.add_error(field, "Give both times, or neither.")
            elif start == end:
                self.add_error("if_time_to", "The end must differ from the start.")
            else:
                conditions["time_of_day"] = {"from": f"{start:%H:%M}", "to": f"{end:%H:%M}"}

        action: dict = {}
        queue = self._pick_queue(data.get("then_queue"), clinic)
        if queue is not None:
            action["queue"] = queue.pk
        if data.get("then_raise_acuity"):
            action["raise_acuity"] = data["then_raise_acuity"]
        people = {str(p) for p in [data.get("then_assign_to"), *(data.get("then_notify") or [])]}
        staff = self._staff_of(clinic, people - {"", "None"})
        if data.get("then_assign_to") and int(data["then_assign_to"]) in staff:
            action["assign_to"] = int(data["then_assign_to"])
        notify = [int(p) for p in data.get("then_notify") or []]
        if notify and not [p for p in notify if p not in staff]:
            action["notify"] = notify
        if data.get("then_auto_reply"):
            action["auto_reply"] = data["then_auto_reply"]
        if not action and not self.errors:
            self.add_error(
                "then_queue",
                "Choose at least one action: a queue, an acuity to raise to, a person to "
                "assign or notify, or an automatic reply.",
            )
        if self.errors:
            return None
        try:
            rules.validate(conditions, action)
        except rules.InvalidRule as exc:
            for where, problem in exc.errors.items():
                kind, _, key = where.partition(".")
                fields = CONDITION_FIELDS if kind == "conditions" else ACTION_FIELDS
                self.add_error(fields.get(key), f"{_label(key)}: {problem}")
            return None
        return conditions, action

    def _pick_queue(self, queue_id: str | None, clinic: Clinic | None) -> Queue | None:
        if not queue_id:
            return None
        queue = Queue.objects.filter(pk=queue_id).select_related("clinic").first()
        if queue is None or queue.role not in ServiceLevel.values:
            self.add_error("then_queue", "That queue no longer exists; choose another.")
            return None
        if clinic is not None and queue.clinic_id != clinic.pk:
            self.add_error(
                "then_queue",
                f"“{queue.name}” is a queue of {queue.clinic.name}, not of {clinic.name}: "
                "a rule only routes within its own clinic.",
            )
            return None
        return queue

    def _staff_of(self, clinic: Clinic | None, people: set[str]) -> set[int]:
        if not people or clinic is None:
            return set()
        ids = {int(p) for p in people}
        staff = set(
            Membership.objects.filter(clinic=clinic, user_id__in=ids).values_list(
                "user_id", flat=True
            )
        )
        for field in ("then_assign_to", "then_notify"):
            chosen = self.cleaned_data.get(field) or []
            chosen = [chosen] if isinstance(chosen, str) else chosen
            if any(c and int(c) not in staff for c in chosen):
                self.add_error(
                    field, f"Choose staff of {clinic.name}: a rule never involves another clinic."
                )
        return staff


class RuleBuilderAdminForm(RuleBuilderFields, forms.ModelForm):
    """The admin's add and change form of a routing rule, built from drop-downs."""

    class Meta:
        model = RoutingRule
        fields = ("clinic", "name", "order", "enabled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name, value in initial_from_json(
                self.instance.conditions, self.instance.action
            ).items():
                self.initial.setdefault(name, value)
        if "clinic" in self.fields:  # the admin has scoped it to the clinics one administers
            clinics = list(self.fields["clinic"].queryset)
            if len(clinics) == 1 and self.instance.pk is None:
                self.fields["clinic"].initial = clinics[0].pk  # one's own clinic
        else:
            clinics = [self.instance.clinic] if self.instance.pk else []
        self.setup_builder(clinics)

    def clean(self):
        cleaned = super().clean()
        clinic = cleaned.get("clinic") or (self.instance.clinic if self.instance.pk else None)
        built = self.clean_rule(clinic)
        if built is not None:
            self.instance.conditions, self.instance.action = built
        return cleaned

    def _update_errors(self, errors):
        # The model's own checks speak of its JSON fields, which this form shows as
        # rows: their problems go to the top of the form.
        if hasattr(errors, "error_dict"):
            for name in ("conditions", "action"):
                if name in errors.error_dict:
                    errors.error_dict.setdefault("__all__", []).extend(errors.error_dict.pop(name))
        super()._update_errors(errors)


class RuleBuilderTrialForm(RuleBuilderFields, RuleTrialForm):
    """The rule test page's form with the rule built from drop-downs: cleaned_data gets
    `conditions` and `action` as the JSON the test, the replay and the save take."""

    conditions = None  # built from the rows below
    action = None

    GROUPS = (
        ("The rule", ("clinic", "name", "order", "enabled")),
        *RuleBuilderFields.BUILDER_GROUPS,
        *RuleTrialForm.GROUPS[1:],
    )

    def __init__(self, *args, clinics, fixed_clinic=None, initial=None, **kwargs):
        initial = dict(initial or {})
        if "conditions" in initial or "action" in initial:
            initial |= initial_from_json(initial.pop("conditions", {}), initial.pop("action", {}))
        super().__init__(
            *args, clinics=clinics, fixed_clinic=fixed_clinic, initial=initial, **kwargs
        )
        self.fixed_clinic = fixed_clinic
        if fixed_clinic is None and len(clinics) == 1:
            self.fields["clinic"].initial = clinics[0]  # one's own clinic
        self.setup_builder([fixed_clinic] if fixed_clinic is not None else clinics)

    def clean(self):
        cleaned = super().clean()
        clinic = self.fixed_clinic or cleaned.get("clinic")
        built = self.clean_rule(clinic)
        if built is not None:
            cleaned["conditions"], cleaned["action"] = built
        return cleaned
