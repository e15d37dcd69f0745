from django.contrib import admin

from billing import services
from billing.models import (
    BillingAuditEvent,
    ClaimExport,
    EVisit,
    FeeSchedule,
    PatientVisit,
    TimeEntry,
)
from config.admin import ReadOnlyAdmin


@admin.register(TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "credential", "conversation", "source", "started_at", "seconds")
    list_filter = ("role", "source")


@admin.register(FeeSchedule)
class FeeScheduleAdmin(admin.ModelAdmin):
    """Billing admins keep the amounts per code, payer and date range here."""

    list_display = ("code", "payer", "amount", "effective_from", "effective_to")
    list_filter = ("code", "payer")


@admin.register(PatientVisit)
class PatientVisitAdmin(admin.ModelAdmin):
    list_display = ("patient", "on", "kind", "global_period_days")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.visit_changed(patient_id=obj.patient_id)


@admin.register(EVisit)
class EVisitAdmin(ReadOnlyAdmin):
    list_display = ("conversation", "clinic", "status", "code", "minutes", "amount")
    list_filter = ("status", "code", "clinic")


@admin.register(ClaimExport)
class ClaimExportAdmin(ReadOnlyAdmin):
    list_display = ("id", "format", "claims", "total", "created_by", "created_at")


@admin.register(BillingAuditEvent)
class BillingAuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "evisit", "export", "detail")
    list_filter = ("action",)
