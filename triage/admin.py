from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils import timezone

from accounts.admin_scoping import ClinicScopedAdmin, ReadOnlyAdmin, SuperuserOnlyRecordsAdmin
from inbox.audit import record_patient_data_accesses
from inbox.models import Patient, PatientDataAccess
from triage.ml.reporting import summary_line
from triage.model_registry import activate_model_version
from triage.models import ModelVersion
from triage.selectors import model_version_usage


class PatientDataAccessLogged:
    """For a ModelAdmin whose pages show identifying patient data (names, MRNs, message
    text, claims files): writes them to the access log like the staff pages do, one row
    per patient per request, in one INSERT. The list writes the patients of the rows it
    shows (after filters, search and paging); the object page (GET) the patients of its
    object. A refused request (not staff, no permission, no such object) writes nothing.

    Set `access_log_list` and/or `access_log_page` to the PatientDataAccess.What of each
    page (None: that page shows no patient data) and say in `patients_shown` which
    patients one object shows. A list only reads what the changelist loaded, so keep
    what `patients_shown` follows in `list_select_related`: a page of 100 rows then
    costs no query more than a page of one."""

    access_log_list: str | None = None
    access_log_page: str | None = None

    def patients_shown(self, obj) -> Iterable[tuple[Patient, int]]:
        """(patient, object_id) for each patient this object's row or page shows."""
        raise NotImplementedError

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if self.access_log_list and changelist is not None:
            rows = changelist.result_list  # the page's rows, loaded once for the template too
            record_patient_data_accesses(
                user=request.user,
                what=self.access_log_list,
                shown=[shown for obj in rows for shown in self.patients_shown(obj)],
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = (getattr(response, "context_data", None) or {}).get("original")
        if self.access_log_page and request.method == "GET" and obj is not None:
            record_patient_data_accesses(
                user=request.user, what=self.access_log_page, shown=self.patients_shown(obj)
            )
        return response


@admin.register(PatientDataAccess)
class PatientDataAccessAdmin(PatientDataAccessLogged, ClinicScopedAdmin, ReadOnlyAdmin):
    """The access log: filter by patient (MRN), user, clinic or date. It names patients,
    so reading it is logged too. A clinic's administrators see its rows only."""

    list_display = ("at", "user", "patient", "what", "object_id", "clinic")
    list_filter = ("clinic", "what", "at")
    search_fields = ("patient__mrn", "user__username")
    date_hierarchy = "at"
    list_select_related = ("user", "patient", "clinic")
    access_log_list = PatientDataAccess.What.ADMIN_ACCESS_LOG_LIST
    access_log_page = PatientDataAccess.What.ADMIN_ACCESS_LOG_ENTRY

    def patients_shown(self, obj):
        return [(obj.patient, obj.pk)]


@admin.register(Patient)
class PatientAdmin(PatientDataAccessLogged, ClinicScopedAdmin, ReadOnlyAdmin):
    """Patients come from the portal and the EHR, never typed here. The list is where a
    patient visit's patient is looked up (by MRN or name) instead of a drop-down naming
    every patient; both pages name patients, so both are logged."""

    list_display = ("mrn", "name", "clinic")
    search_fields = ("mrn", "name")
    list_select_related = ("clinic",)
    list_filter = ("clinic",)
    access_log_list = PatientDataAccess.What.ADMIN_PATIENT_LIST
    access_log_page = PatientDataAccess.What.ADMIN_PATIENT

    def patients_shown(self, obj):
        return [(obj, obj.pk)]


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
