from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils import timezone

from accounts.admin_scoping import SuperuserOnlyRecordsAdmin
from triage.ml.reporting import summary_line
from triage.model_registry import activate_model_version
from triage.models import ModelVersion
from triage.selectors import model_version_usage


@admin.register(ModelVersion)
class ModelVersionAdmin(SuperuserOnlyRecordsAdmin):
    """The triage models, shared by every clinic: superusers look at each version's
    held-out figures and how it does in the clinics (corrections, drift), and promote a
    version, or roll back to an older one, without a shell."""

    list_display = ("name", "is_active", "created_at", "holdout", "short_sha256")
    list_filter = ("is_active",)
    fields = ("name", "is_active", "created_at", "sha256", "training_data_hash")
    actions = ["promote"]
    change_form_template = "admin/triage/modelversion/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("artifact")

    @admin.display(description="held-out figures")
    def holdout(self, obj):
        report = obj.metrics.get("holdout")
        return summary_line(report) if report else "not evaluated"

    @admin.display(description="sha256")
    def short_sha256(self, obj):
        return obj.sha256[:12]

    @admin.action(description="Make the selected version the active model")
    def promote(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to make active.", messages.ERROR)
            return
        version = queryset.get()
        try:
            activate_model_version(version_id=version.pk)
        except Exception as exc:
            # The artifact did not load: the active model stays as it was.
            self.message_user(
                request,
                f"Not made active: the artifact of {version.name} does not load ({exc}).",
                messages.ERROR,
            )
            return
        self.log_change(request, version, "Made the active model.")
        self.message_user(
            request,
            f"The active model is now {version.name}; workers use it from their next message.",
            messages.SUCCESS,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {})}
        if version is not None:
            report = version.metrics.get("holdout")
            extra_context |= {
                "holdout": summary_line(report) if report else None,
                "thresholds": version.metrics.get("thresholds"),
                "usage": model_version_usage(version=version, now=timezone.now()),
            }
        return super().change_view(request, object_id, form_url, extra_context)
