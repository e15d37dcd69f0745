"""Where administrators shape routing per clinic without a developer. Admin changes are
written to Django's admin log (who, when, what) and rules also keep `updated_by`. Every
page is scoped to the clinics the user administers (accounts.admin_scoping.ClinicScopedAdmin)."""

import copy
import json
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from accounts.admin_scoping import ClinicScopedAdmin, ReadOnlyAdmin
from accounts.models import Clinic
from routing import rule_order_admin, rule_trial, sla_overview, webhooks
from routing.models import (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    Notification,
    OnCallShift,
    Queue,
    RoutingRule,
    RuleReplay,
    ScopeGrant,
    SlaBreach,
    SlaPolicy,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
    WorkEvent,
    WorkItem,
)
from routing.rule_builder import (
    ACTION_FIELD_NAMES,
    CONDITION_FIELD_NAMES,
    RuleBuilderAdminForm,
)
from routing.rule_builder import RuleBuilderTrialForm as RuleTrialForm


@admin.register(Queue)
class QueueAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "clinic", "role", "is_role_default")
    list_filter = ("clinic", "role")


@admin.register(RoutingRule)
class RoutingRuleAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("order", "name", "clinic", "enabled", "updated_by", "updated_at")
    list_display_links = ("name",)
    list_filter = ("clinic", "enabled")
    ordering = ("clinic", "order", "id")
    readonly_fields = ("updated_by", "created_at", "updated_at")
    change_form_template = "admin/routing/routingrule/change_form.html"
    change_list_template = "admin/routing/routingrule/change_list.html"
    # Conditions and actions as rows of drop-downs; the JSON is what it stores.
    form = RuleBuilderAdminForm
    fieldsets = (
        (None, {"fields": ("clinic", "name", "order", "enabled")}),
        (RuleBuilderAdminForm.BUILDER_GROUPS[0][0], {"fields": CONDITION_FIELD_NAMES}),
        (RuleBuilderAdminForm.BUILDER_GROUPS[1][0], {"fields": ACTION_FIELD_NAMES}),
        ("Record", {"fields": ("updated_by", "created_at", "updated_at")}),
    )

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        trial = self.admin_site.admin_view(self.trial_view)
        return [
            path(
                "order/",
                self.admin_site.admin_view(self.order_view),
                name="routing_routingrule_order",
            ),
            path("try/", trial, name="routing_routingrule_try_new"),
            path("<path:object_id>/try/", trial, name="routing_routingrule_try"),
            *super().get_urls(),
        ]

    def order_view(self, request):
        return rule_order_admin.order_page(self, request)

    def trial_view(self, request, object_id=None):
        """Edit a rule and see what it does before saving: where a typed message would
        go, and (on the slow queue) what would move among the last days' messages."""
        rule = None
        if object_id is not None:
            rule = self.get_object(request, unquote(object_id))
            if rule is None:
                raise Http404("rule not found")
            if not self.has_change_permission(request, rule):
                raise PermissionDenied
        elif not self.has_add_permission(request):
            raise PermissionDenied
        clinics = Clinic.objects.all() if request.user.is_superuser else self.admin_clinics(request)
        form_kwargs = {"clinics": clinics, "fixed_clinic": rule.clinic if rule else None}
        preview = None
        if request.method == "POST":
            form = RuleTrialForm(request.POST, **form_kwargs)
            edited = self._validated_rule(form, rule)
            intent = request.POST.get("do")
            if intent == "open":  # the rule as edited on its change form, carried here
                form = self._opened_from_change_form(request.POST, form_kwargs)
            if edited is not None and intent == "save":
                return self._save_from_trial(request, edited)
            if edited is not None and intent == "replay":
                requested = rule_trial.request_rule_replay(
                    actor=request.user,
                    clinic=edited.clinic,
                    edited=edited.as_rule(),
                    days=form.cleaned_data["days"],
                )
                return redirect("admin:routing_rulereplay_change", requested.pk)
            if edited is not None and intent == "test":
                if not form.cleaned_data["body"].strip():
                    form.add_error("body", "Type a message to test the rule on.")
                else:
                    preview = rule_trial.routing_preview(
                        clinic=edited.clinic,
                        edited=edited.as_rule(),
                        sample=self._sample(form.cleaned_data, edited.clinic),
                        now=timezone.now(),
                    )
        else:
            initial = {}
            if rule is not None:
                initial = {
                    field: getattr(rule, field)
                    for field in ("name", "order", "enabled", "conditions", "action")
                }
            initial |= self._replayed_edit(request, rule, clinics)
            form = RuleTrialForm(initial=initial, **form_kwargs)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Test {rule.name}" if rule else "Test a new rule",
            "rule": rule,
            "form": form,
            "preview": preview,
            "recent_replays": RuleReplay.objects.filter(rule=rule)[:5] if rule else [],
        }
        return TemplateResponse(request, "admin/routing/routingrule/try.html", context)

    def _replayed_edit(self, request, rule: RoutingRule | None, clinics) -> dict:
        """?replay=<id>: back from a replay's report to the edit it replayed (unsaved)."""
        replayed = RuleReplay.objects.filter(
            pk=request.GET.get("replay") if request.GET.get("replay", "").isdigit() else 0,
            clinic__in=clinics,
            rule=rule,
        ).first()
        if replayed is None:
            return {}
        edit = replayed.proposed_rule
        fields = ("name", "order", "enabled", "conditions", "action")
        return {"clinic": replayed.clinic} | {f: edit[f] for f in fields if f in edit}

    def _opened_from_change_form(self, posted, form_kwargs) -> RuleTrialForm:
        """The test page filled with the rule as edited on its change form (unsaved):
        the message and the replay fields start empty, the rule's problems are shown."""
        data = posted.copy()
        data.setdefault("days", "30")
        data.setdefault("language", "en")
        form = RuleTrialForm(data, **form_kwargs)
        if not form.is_valid():
            return form
        initial = {k: form.cleaned_data[k] for k in ("clinic", "name", "order", "enabled")}
        initial |= {k: form.cleaned_data[k] for k in ("conditions", "action")}
        return RuleTrialForm(initial=initial, **form_kwargs)

    def _validated_rule(self, form: RuleTrialForm, rule: RoutingRule | None):
        """The edit as an unsaved RoutingRule that passed every check a save makes, or
        None with the problems added to the form."""
        if not form.is_valid():
            return None
        data = form.cleaned_data
        # A copy of the saved rule keeps its clinic, id and history; the form's clinic is
        # only taken for a new rule.
        edited = copy.copy(rule) if rule is not None else RoutingRule(clinic=data["clinic"])
        edited.name = data["name"]
        edited.order = data["order"]
        edited.enabled = data["enabled"]
        edited.conditions = data["conditions"] or {}
        edited.action = data["action"]
        try:
            edited.full_clean(exclude=["updated_by"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
            return None
        return edited

    def _sample(self, data: dict, clinic: Clinic) -> rule_trial.SampleMessage:
        received_at = data["received_at"]
        if received_at is not None:
            # Typed as the clinic's local time, whatever the server's zone.
            received_at = timezone.make_naive(received_at).replace(
                tzinfo=ZoneInfo(clinic.time_zone)
            )
        return rule_trial.SampleMessage(
            subject=data["subject"],
            body=data["body"],
            category=data["category"],
            language=data["language"],
            on_chemotherapy=data["on_chemotherapy"],
            received_at=received_at,
        )

    def _save_from_trial(self, request, edited: RoutingRule):
        change = edited.pk is not None
        self.save_model(request, edited, form=None, change=change)
        if change:
            self.log_change(request, edited, "Changed on the rule test page.")
        else:
            self.log_addition(request, edited, "Added on the rule test page.")
        messages.success(request, f"The rule “{edited.name}” was saved.")
        return redirect("admin:routing_routingrule_changelist")


@admin.register(RuleReplay)
class RuleReplayAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "clinic", "rule_name", "days", "status", "progress", "moved")
    list_filter = ("clinic", "status")
    fields = ("clinic", "rule", "requested_by", "days", "since", "status", "created_at")
    change_form_template = "admin/routing/rulereplay/change_form.html"

    @admin.display(description="rule")
    def rule_name(self, obj):
        return obj.proposed_rule.get("name", "")

    @admin.display(description="messages")
    def progress(self, obj):
        return f"{obj.processed} of {obj.total}"

    @admin.display(description="would move")
    def moved(self, obj):
        return obj.report.get("moved", "") if obj.status == RuleReplay.Status.DONE else ""

    def get_urls(self):
        status = self.admin_site.admin_view(self.status_view)
        return [
            path("<path:object_id>/status/", status, name="routing_rulereplay_status"),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        replay_request = self.get_object(request, unquote(object_id))
        if replay_request is None or not self.has_view_permission(request, replay_request):
            raise Http404("replay not found")
        return JsonResponse(
            {
                "status": replay_request.status,
                "status_label": replay_request.get_status_display(),
                "processed": replay_request.processed,
                "total": replay_request.total,
                "finished": replay_request.is_finished,
            }
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        replay_request = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "replay": replay_request}
        if replay_request is not None:
            edited = replay_request.proposed_rule
            extra_context |= {
                "conditions_json": json.dumps(edited.get("conditions", {})),
                "action_json": json.dumps(edited.get("action", {})),
                "proposed_summary": rule_order_admin.summary_of(
                    replay_request.clinic, edited.get("conditions", {}), edited.get("action", {})
                ),
            }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("clinic", "acuity", "role", "clock", "amount")
    list_filter = ("clinic", "acuity")
    # The built-in targets and the one in effect per acuity and role, under the rows.
    change_list_template = "admin/routing/slapolicy/change_list.html"

    def changelist_view(self, request, extra_context=None):
        clinics = Clinic.objects.all() if request.user.is_superuser else self.admin_clinics(request)
        extra_context = {
            **(extra_context or {}),
            "effective_targets": sla_overview.effective_targets(clinics=clinics),
            "built_in_targets": sla_overview.built_in_targets(),
        }
        return super().changelist_view(request, extra_context)


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class ClinicClosureInline(admin.TabularInline):
    model = ClinicClosure
    extra = 0


@admin.register(ClinicRouting)
class ClinicRoutingAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = (
        "clinic",
        "holiday_country",
        "holiday_subdivision",
        "on_call_fallback_email",
        "after_hours_phone",
        "alert_on_call_for_after_hours_urgent",
        "pause_sla_while_pending",
    )


@admin.register(BusinessHours)
class BusinessHoursAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("clinic", "weekday", "opens_at", "closes_at")
    list_filter = ("clinic", "weekday")


@admin.register(ClinicClosure)
class ClinicClosureAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("clinic", "date", "reason")
    list_filter = ("clinic",)


@admin.register(OnCallShift)
class OnCallShiftAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("clinic", "clinician", "starts_at", "ends_at")
    list_filter = ("clinic",)


@admin.register(AutoReplyTemplate)
class AutoReplyTemplateAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("clinic", "name", "language")
    list_filter = ("clinic", "name")


@admin.register(WorkItem)
class WorkItemAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    list_display = ("id", "clinic", "queue", "status", "acuity", "due_at", "claimed_by")
    list_filter = ("clinic", "status", "acuity")


@admin.register(WorkEvent)
class WorkEventAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    clinic_lookup = "work_item__clinic"
    list_display = ("created_at", "work_item", "kind", "actor", "from_queue", "to_queue")
    list_filter = ("kind",)


@admin.register(Notification)
class NotificationAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "kind", "window", "channel", "recipient", "status")
    list_filter = ("kind", "status", "channel")


@admin.register(SlaBreach)
class SlaBreachAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    clinic_lookup = "work_item__clinic"
    list_display = ("detected_at", "work_item", "acuity", "window", "action")


@admin.register(ScopeGrant)
class ScopeGrantAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    """A clinic's widenings of the default scope of practice (routing/scope.py), one case
    each; who changed what is in Django's admin log."""

    list_display = ("clinic", "role", "action", "service_level", "acuity", "reason", "created_at")
    list_filter = ("clinic", "role", "action")


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookSubscription
        fields = ("clinic", "name", "url", "events", "carries_phi", "active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    """A clinic's event webhooks. The signing secret is made on creation and shown on the
    subscription's page to the clinic's administrators, who set up the receiver's check."""

    form = WebhookSubscriptionForm
    list_display = ("name", "clinic", "url", "event_list", "carries_phi", "active")
    list_filter = ("clinic", "active")
    readonly_fields = ("secret", "created_at")

    @admin.display(description="events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events)

    def get_readonly_fields(self, request, obj=None):
        # No secret before it exists: it is made when the subscription is saved.
        return self.readonly_fields if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead: its deliveries stay on record


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    """Every event sent or being sent, failures first to the eye (filter on status), and a
    replay for the ones the receiver missed. The body is not shown: for a subscription that
    carries PHI it holds message text, and this page is not in the access log."""

    list_display = (
        "created_at",
        "event",
        "event_id",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event", "subscription")
    exclude = ("payload",)
    actions = ("replay",)

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("routing.change_webhookdelivery")

    @admin.action(description="Replay: send the selected deliveries again", permissions=["replay"])
    def replay(self, request, queryset):
        count = webhooks.replay(deliveries=queryset)
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)


# The quick replies' admin lives in its own module; imported here so autodiscover finds it.
from routing import quick_reply_admin  # noqa: E402, F401
