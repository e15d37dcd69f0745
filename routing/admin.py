"""Where administrators shape routing per clinic without a developer. Admin changes are
written to Django's admin log (who, when, what) and rules also keep `updated_by`. Every
page is scoped to the clinics the user administers (config.admin.ClinicScopedAdmin)."""

from django.contrib import admin

from config.admin import ClinicScopedAdmin, ReadOnlyAdmin
from routing.models import (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    Notification,
    OnCallShift,
    Queue,
    RoutingRule,
    SlaBreach,
    SlaPolicy,
    WorkEvent,
    WorkItem,
)


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

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("clinic", "acuity", "role", "clock", "amount")
    list_filter = ("clinic", "acuity")


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class ClinicClosureInline(admin.TabularInline):
    model = ClinicClosure
    extra = 0


@admin.register(ClinicRouting)
class ClinicRoutingAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("clinic", "holiday_country", "holiday_subdivision", "on_call_fallback_email")


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
