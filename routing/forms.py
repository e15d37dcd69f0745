from django import forms

from routing.replay import EXAMPLE_LIMIT

MAX_REPLAY_DAYS = 90
LANGUAGES = [("en", "English"), ("es", "Spanish")]


class RuleTrialForm(forms.Form):
    """One routing rule as edited, a message to test it on, and how far back to replay
    it: the administrator sees what the edit does before saving it."""

    clinic = forms.ModelChoiceField(queryset=None)
    name = forms.CharField(max_length=200)
    order = forms.IntegerField(help_text="Lower runs first; the first matching rule wins.")
    enabled = forms.BooleanField(required=False, initial=True)
    conditions = forms.JSONField(
        initial=dict,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        help_text='e.g. {"keyword": ["port", "picc"], "patient_flag": "on_chemotherapy"}',
    )
    action = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text='e.g. {"queue": 12} or {"raise_acuity": "urgent"}',
    )

    subject = forms.CharField(max_length=300, required=False, label="Message subject")
    body = forms.CharField(
        required=False,
        label="Message text",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="Classified by the active model and the red-flag layer; not stored.",
    )
    category = forms.CharField(max_length=64, required=False, label="Patient-chosen category")
    language = forms.ChoiceField(choices=LANGUAGES, initial="en", label="Patient's language")
    on_chemotherapy = forms.BooleanField(required=False, label="Patient on chemotherapy")
    received_at = forms.DateTimeField(
        required=False,
        label="Received at (clinic time)",
        help_text="YYYY-MM-DD HH:MM; empty for now.",
    )

    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_REPLAY_DAYS,
        initial=30,
        label="Replay over the last (days)",
        help_text=f"Routed messages of the clinic; the first {EXAMPLE_LIMIT} that move are listed.",
    )

    def __init__(self, *args, clinics, fixed_clinic=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        if fixed_clinic is not None:
            # A saved rule stays in its clinic.
            self.fields["clinic"].initial = fixed_clinic
            self.fields["clinic"].disabled = True

    GROUPS = (
        ("The rule", ("clinic", "name", "order", "enabled", "conditions", "action")),
        (
            "A message to test it on",
            ("subject", "body", "category", "language", "on_chemotherapy", "received_at"),
        ),
        ("Replay over past messages", ("days",)),
    )

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]
