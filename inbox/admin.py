"""Admin pages of the inbox: the patient look-up and the access log, and the mixin that
writes the access log for every admin page that names patients."""

from collections.abc import Iterable

from django.contrib import admin

from accounts.admin_scoping import ClinicScopedAdmin, ReadOnlyAdmin
from inbox.audit import record_patient_data_accesses
from inbox.models import Patient, PatientChange, PatientDataAccess


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
    access_log_history: str | None = None

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

    def history_view(self, request, object_id, extra_context=None):
        # The history page's title and breadcrumbs name the object: logged where that
        # names a patient (access_log_history), like the object's own page.
        response = super().history_view(request, object_id, extra_context)
        obj = (getattr(response, "context_data", None) or {}).get("object")
        if self.access_log_history and obj is not None:
            record_patient_data_accesses(
                user=request.user, what=self.access_log_history, shown=self.patients_shown(obj)
            )
        return response

    def patients_in_add_form(self, form) -> Iterable[tuple[Patient, int]]:
        """(patient, object_id) for each patient an add form names (a patient given in the
        URL shows beside the id field); none by default."""
        return []

    def add_view(self, request, form_url="", extra_context=None):
        response = super().add_view(request, form_url, extra_context)
        form = getattr(
            (getattr(response, "context_data", None) or {}).get("adminform"), "form", None
        )
        if request.method == "GET" and form is not None:
            record_patient_data_accesses(
                user=request.user,
                what=PatientDataAccess.What.ADMIN_PATIENT,
                shown=self.patients_in_add_form(form),
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

    def get_search_fields(self, request):
        # Django answers an autocomplete search of this admin through any foreign key to
        # a patient, whether a form uses autocomplete or not (none here does): refuse it
        # (404) rather than answer names and MRNs outside the logged patient list.
        if request.resolver_match and request.resolver_match.url_name == "autocomplete":
            return ()
        return super().get_search_fields(request)

    list_select_related = ("clinic",)
    list_filter = ("clinic",)
    access_log_list = PatientDataAccess.What.ADMIN_PATIENT_LIST
    access_log_page = PatientDataAccess.What.ADMIN_PATIENT
    access_log_history = PatientDataAccess.What.ADMIN_PATIENT

    def patients_shown(self, obj):
        return [(obj, obj.pk)]


@admin.register(PatientChange)
class PatientChangeAdmin(PatientDataAccessLogged, ClinicScopedAdmin, ReadOnlyAdmin):
    """Patient details an integration sent that differed from the stored ones: what was
    applied, and what was kept aside because the integration is not the clinic's source
    of truth for demographics (check those against the chart)."""

    list_display = ("at", "patient", "field", "old_value", "new_value", "applied", "integration")
    list_filter = ("applied", "field", "clinic")
    list_select_related = ("patient", "integration")
    date_hierarchy = "at"
    access_log_list = PatientDataAccess.What.ADMIN_PATIENT_CHANGES
    access_log_page = PatientDataAccess.What.ADMIN_PATIENT_CHANGES
    access_log_history = PatientDataAccess.What.ADMIN_PATIENT_CHANGES  # names the patient

    def patients_shown(self, obj):
        return [(obj.patient, obj.pk)]
