from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts.admin_scoping import ClinicScopedAdmin, ReadOnlyAdmin, SuperuserOnlyAdmin
from billing import selectors, services
from billing.models import (
    BillingAuditEvent,
    ClaimExport,
    EVisit,
    FeeSchedule,
    PatientVisit,
    TimeEntry,
)
from inbox.admin import PatientDataAccessLogged
from inbox.models import PatientDataAccess


@admin.register(TimeEntry)
class TimeEntryAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("user", "role", "credential", "conversation", "source", "started_at", "seconds")
    list_filter = ("role", "source")


@admin.register(FeeSchedule)
class FeeScheduleAdmin(SuperuserOnlyAdmin, admin.ModelAdmin):
    """Billing admins keep the amounts per code, payer and date range here. One schedule
    prices every clinic's e-visits, so only superusers change it."""

    list_display = ("code", "payer", "amount", "effective_from", "effective_to")
    list_filter = ("code", "payer")


@admin.register(PatientVisit)
class PatientVisitAdmin(PatientDataAccessLogged, ClinicScopedAdmin, admin.ModelAdmin):
    """Visits from the EHR, entered here. The list and the visit page name the patient,
    so both are written to the access log."""

    list_display = ("patient", "on", "kind", "global_period_days")
    search_fields = ("patient__mrn",)
    # An id with a look-up (the logged, clinic-scoped patient list), not a drop-down
    # naming every patient of the clinic on every visit form.
    raw_id_fields = ("patient",)
    list_select_related = ("patient",)
    clinic_lookup = "patient__clinic"
    access_log_list = PatientDataAccess.What.ADMIN_VISIT_LIST
    access_log_page = PatientDataAccess.What.ADMIN_VISIT

    def patients_shown(self, obj):
        return [(obj.patient, obj.pk)]

    def patients_in_add_form(self, form):
        # "Add visit" from a patient's look-up: the id field shows that patient's name.
        patient_id = form.initial.get("patient")
        if not patient_id:
            return []
        # Named only when the field offers it (ClinicScopedAdmin: the user's clinics).
        try:
            offered = form.fields["patient"].queryset.filter(pk=patient_id).first()
        except (TypeError, ValueError, ValidationError):
            return []  # not an id: the form names nobody either
        return [(offered, offered.pk)] if offered is not None else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.visit_changed(patient_id=obj.patient_id)


@admin.register(EVisit)
class EVisitAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    list_display = ("conversation", "clinic", "status", "code", "minutes", "amount")
    list_filter = ("status", "code", "clinic")


@admin.register(ClaimExport)
class ClaimExportAdmin(PatientDataAccessLogged, ClinicScopedAdmin, ReadOnlyAdmin):
    """The list shows counts and totals only; an export's page shows its file, which
    names every patient in it, so opening one is logged like downloading it. A clinic's
    administrators see only files all of whose e-visits are their clinics' (like the
    billing pages)."""

    list_display = ("id", "format", "claims", "total", "created_by", "created_at")
    access_log_page = PatientDataAccess.What.ADMIN_CLAIMS_EXPORT

    def scope_to_clinics(self, queryset, clinics):
        return queryset.filter(pk__in=selectors.exports_within(clinics=clinics).values("pk"))

    def patients_shown(self, obj):
        return [(patient, obj.pk) for patient in selectors.patients_in_export(export=obj)]


@admin.register(BillingAuditEvent)
class BillingAuditEventAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "evisit", "export", "detail")
    list_filter = ("action",)

    def scope_to_clinics(self, queryset, clinics):
        exports = selectors.exports_within(clinics=clinics).values("pk")
        return queryset.filter(Q(evisit__clinic__in=clinics) | Q(export__in=exports))
