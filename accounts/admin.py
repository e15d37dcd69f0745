from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from accounts import services
from accounts.admin_scoping import (
    ClinicScopedAdmin,
    SuperuserOnlyAdmin,
    SuperuserOnlyRecordsAdmin,
    within_clinics,
)
from accounts.forms import AdminSignInForm
from accounts.models import Absence, Clinic, FailedSignIn, Membership, User

# /admin/login/ says so when a username is locked out, as /login/ does (the lockout itself
# is enforced by accounts.backends.SignInLockoutBackend on both).
admin.site.login_form = AdminSignInForm


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


@admin.register(FailedSignIn)
class FailedSignInAdmin(SuperuserOnlyRecordsAdmin):
    """Superusers only (failures belong to no clinic, and a username may not be anyone's):
    a read-only list, and the unlock actions, which delete the selected rows' usernames'
    (or addresses') failures so the next sign-in is checked afresh."""

    list_display = ("username", "ip_address", "attempted_at")
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempted_at"
    ordering = ("-attempted_at",)
    actions = ["unlock_usernames", "unlock_addresses"]

    @admin.action(description="Unlock selected usernames")
    def unlock_usernames(self, request, queryset):
        usernames = sorted(set(queryset.values_list("username", flat=True)))
        cleared = services.unlock_usernames(usernames=usernames)
        self.message_user(
            request,
            f"Unlocked {', '.join(usernames)}: {cleared} failed sign-ins cleared.",
            messages.SUCCESS,
        )

    @admin.action(description="Unlock selected addresses (every username tried from them)")
    def unlock_addresses(self, request, queryset):
        addresses = sorted(
            set(queryset.exclude(ip_address=None).values_list("ip_address", flat=True))
        )
        cleared = services.unlock_addresses(ip_addresses=addresses)
        self.message_user(
            request,
            f"Unlocked {', '.join(addresses) or 'no address'}: {cleared} failed sign-ins cleared.",
            messages.SUCCESS,
        )
