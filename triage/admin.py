from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.admin_scoping import SuperuserOnlyRecordsAdmin
from triage import admin_corrections  # noqa: F401  (registers the corrections' admin)
from triage.ml.reporting import summary_line
from triage.model_registry import activate_model_version
from triage.models import ModelTraining, ModelVersion
from triage.selectors import LIVE_ACCURACY_WEEKS, live_accuracy, model_version_usage
from triage.services import request_candidate_training, request_ensemble_training
from triage.shadow import MAX_SHADOW_DAYS, ShadowRefused, shadow_report, start_shadow
from triage.tasks import CANDIDATE_TRAINING, ENSEMBLE_TRAINING


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
        candidate = self.admin_site.admin_view(require_POST(self.train_candidate_view))
        shadow = self.admin_site.admin_view(require_POST(self.shadow_view))
        return [
            path("train-ensemble/", train, name="triage_modelversion_train_ensemble"),
            path("train-candidate/", candidate, name="triage_modelversion_train_candidate"),
            path("<path:object_id>/shadow/", shadow, name="triage_modelversion_shadow"),
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

    def train_candidate_view(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser may train a triage model.")
        training, enqueued = request_candidate_training()
        if enqueued:
            self.message_user(
                request,
                "A candidate is training on the slow queue on the corpus plus the reviewed "
                "corrections (about a minute). It is stored inactive, with its figures, for "
                "you to put in shadow and promote.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"A candidate's training is already {training.status} "
                f"(asked {training.requested_at:%Y-%m-%d %H:%M}); nothing new was started.",
                messages.WARNING,
            )
        return redirect(reverse("admin:triage_modelversion_changelist"))

    def shadow_view(self, request, object_id):
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser may put a model in shadow.")
        version = self.get_object(request, unquote(object_id))
        if version is None:
            raise Http404("no such model version")
        try:
            days = int(request.POST.get("days", ""))
            period = start_shadow(version_id=version.pk, days=days, actor=request.user)
        except ValueError:
            self.message_user(request, "Give the number of days.", messages.ERROR)
        except ShadowRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.log_change(request, version, f"Put in shadow for {days} days.")
            self.message_user(
                request,
                f"{version.name} classifies every message beside the active model until "
                f"{period.ends_at:%Y-%m-%d %H:%M} UTC; routing does not read it.",
                messages.SUCCESS,
            )
        return redirect(reverse("admin:triage_modelversion_change", args=[version.pk]))

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "ensemble_training": ModelTraining.objects.filter(name=ENSEMBLE_TRAINING).first(),
            "candidate_training": ModelTraining.objects.filter(name=CANDIDATE_TRAINING).first(),
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
                "fairness": version.metrics.get("fairness"),
                "candidate_corrections": version.metrics.get("corrections"),
                "shadow": shadow_report(version=version, now=timezone.now()),
                "max_shadow_days": MAX_SHADOW_DAYS,
                "live_accuracy": live_accuracy(version=version, now=timezone.now()),
                "live_accuracy_weeks": LIVE_ACCURACY_WEEKS,
            }
        return super().change_view(request, object_id, form_url, extra_context)
