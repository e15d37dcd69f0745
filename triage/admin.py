from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.admin_scoping import SuperuserOnlyRecordsAdmin
from triage.ml.reporting import summary_line
from triage.model_registry import activate_model_version
from triage.models import ModelTraining, ModelVersion
from triage.selectors import model_version_usage
from triage.services import request_ensemble_training
from triage.tasks import ENSEMBLE_TRAINING


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
    change_list_template = "admin/triage/modelversion/change_list.html"

    def get_urls(self):
        train = self.admin_site.admin_view(require_POST(self.train_ensemble_view))
        return [
            path("train-ensemble/", train, name="triage_modelversion_train_ensemble"),
            *super().get_urls(),
        ]

    def train_ensemble_view(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser may train a triage model.")
        training, enqueued = request_ensemble_training()
        if enqueued:
            self.message_user(
                request,
                "The transformer ensemble is training on the slow queue (about an hour on two "
                "cores). It is stored inactive, with its out-of-fold figures, for you to "
                "promote.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"A training of the transformer ensemble is already {training.status} "
                f"(asked {training.requested_at:%Y-%m-%d %H:%M}); nothing new was started.",
                messages.WARNING,
            )
        return redirect(reverse("admin:triage_modelversion_changelist"))

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "ensemble_training": ModelTraining.objects.filter(name=ENSEMBLE_TRAINING).first(),
        }
        return super().changelist_view(request, extra_context)

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
                "out_of_fold": version.metrics.get("out_of_fold"),
                "thresholds": version.metrics.get("thresholds"),
                "usage": model_version_usage(version=version, now=timezone.now()),
            }
        return super().change_view(request, object_id, form_url, extra_context)
