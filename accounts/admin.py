from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Absence, Clinic, Membership, User
from config.admin import ClinicScopedAdmin, SuperuserOnlyAdmin, within_clinics


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class ClinicUserAdmin(SuperuserOnlyAdmin, UserAdmin):
    """Superusers only: whoever edits users can grant staff, superuser and memberships."""

    inlines = [MembershipInline]


@admin.register(Clinic)
class ClinicAdmin(SuperuserOnlyAdmin, admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Absence)
class AbsenceAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    """A clinic's administrators see and enter the absences of their clinics' staff."""

    list_display = ("user", "starts_at", "ends_at", "covering_user", "reason")
    readonly_fields = ("created_by",)

    def scope_to_clinics(self, queryset, clinics):
        return queryset.filter(user__in=within_clinics(User.objects.all(), clinics))

    def clinic_ids_of(self, obj):
        memberships = Membership.objects.filter(user_id=obj.user_id)
        return set(memberships.values_list("clinic_id", flat=True))

    def save_model(self, request, obj, form, change):
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)
