"""The admin of staff label corrections: a clinic's administrators (and superusers) see
its corrections without message text, accept or reject them for training, and export
them for labelling review. The message text leaves only in an export a superuser asks
for explicitly on the confirmation page, and that export is written to the access log:
administrators read no message threads (routing/scope.py), so their exports carry none."""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.admin_scoping import ClinicScopedAdmin, ReadOnlyAdmin
from triage.models import LabelCorrection
from triage.selectors import corrections_export
from triage.services import review_corrections


@admin.register(LabelCorrection)
class LabelCorrectionAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    clinic_lookup = "message__clinic"
    list_display = (
        "id",
        "created_at",
        "message_ref",
        "label",
        "from_value",
        "to_value",
        "corrected_by",
        "review_status",
        "reviewed_by",
        "reviewed_at",
    )
    list_filter = ("review_status", "label", "created_at")
    list_select_related = ("corrected_by", "reviewed_by")
    # The message by id only: its subject and text are a patient's (see the module).
    fields = (
        "message_ref",
        "label",
        "from_value",
        "to_value",
        "reason",
        "corrected_by",
        "created_at",
        "review_status",
        "reviewed_by",
        "reviewed_at",
    )
    readonly_fields = fields
    actions = ["accept", "reject", "export_for_review"]

    @admin.display(description="message")
    def message_ref(self, obj):
        return f"message {obj.message_id}"

    def has_review_permission(self, request):
        return request.user.has_perm("triage.change_labelcorrection")

    def has_export_permission(self, request):
        return request.user.has_perm("triage.view_labelcorrection")

    def _review(self, request, queryset, *, accept: bool):
        reviewed, skipped = review_corrections(
            actor=request.user,
            correction_ids=list(queryset.values_list("pk", flat=True)),
            accept=accept,
        )
        verb = "Accepted for training" if accept else "Rejected"
        self.message_user(request, f"{verb}: {reviewed}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} left as they were: already reviewed, or your own correction "
                "(a second person reviews it).",
                messages.WARNING,
            )

    @admin.action(description="Accept for training", permissions=["review"])
    def accept(self, request, queryset):
        self._review(request, queryset, accept=True)

    @admin.action(description="Reject (never used for training)", permissions=["review"])
    def reject(self, request, queryset):
        self._review(request, queryset, accept=False)

    @admin.action(description="Export selected for labelling review (CSV)", permissions=["export"])
    def export_for_review(self, request, queryset):
        may_include_text = request.user.is_superuser
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Export corrections for labelling review",
                "opts": self.model._meta,
                "corrections": queryset.order_by("pk"),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "may_include_text": may_include_text,
                "media": self.media,
            }
            return TemplateResponse(
                request, "admin/triage/labelcorrection/export_confirm.html", context
            )
        include_text = request.POST.get("include_text") == "yes"
        if include_text and not may_include_text:
            raise PermissionDenied("Only a superuser exports message text.")
        content = corrections_export(
            user=request.user, corrections=queryset, include_text=include_text
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        suffix = "-with-text" if include_text else ""
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="label-corrections-{stamp}{suffix}.csv"'
        )
        return response
