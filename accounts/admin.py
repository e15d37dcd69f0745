from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.template.response import TemplateResponse

from accounts import services
from accounts.admin_scoping import (
    ClinicScopedAdmin,
    SuperuserOnlyAdmin,
    SuperuserOnlyRecordsAdmin,
    within_clinics,
)
from accounts.forms import AdminSignInForm
from accounts.models import (
    Absence,
    ApiToken,
    Clinic,
    FailedSignIn,
    Integration,
    Membership,
    User,
)
from accounts.scopes import INTEGRATION_DEFAULT_SCOPES, Scope, validate_scopes

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


@admin.register(Integration)
class IntegrationAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    """The systems that post a clinic's messages and collect its replies. Superusers and
    the clinic's administrators add them; their tokens are issued under API tokens."""

    list_display = ("name", "clinic", "demographics_source", "account")
    list_filter = ("clinic",)
    readonly_fields = ("account",)

    def has_view_permission(self, request, obj=None):
        return self.administers_a_clinic(request)

    def has_add_permission(self, request):
        return self.administers_a_clinic(request)

    def has_change_permission(self, request, obj=None):
        return self.administers_a_clinic(request)

    def has_delete_permission(self, request, obj=None):
        return False  # its account is in the access log: revoke its tokens instead

    def save_model(self, request, obj, form, change):
        if not change:
            obj.account = services.new_integration_account(clinic=obj.clinic, name=obj.name)
        super().save_model(request, obj, form, change)


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What the token may do. None ticked: the usual job of its holder "
        "(an integration: messages:write, outbox:read, outbox:write; a staff member: "
        "work:read, work:write). Tick no more than the system needs.",
    )

    class Meta:
        model = ApiToken
        fields = ("user", "name", "scopes")


@admin.register(ApiToken)
class ApiTokenAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    """API tokens, shown once when issued. Superusers issue any (a staff member's own or
    an integration's); a clinic's administrators issue and revoke only the tokens of their
    clinics' integrations. Nothing else about a token can be changed."""

    clinic_lookup = "user__integration__clinic"
    form = ApiTokenForm
    list_display = (
        "prefix",
        "name",
        "user",
        "scopes_shown",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    fields = ("user", "name", "scopes")
    readonly_fields = ()
    actions = ["revoke"]

    def has_module_permission(self, request):
        return self.administers_a_clinic(request)

    def has_view_permission(self, request, obj=None):
        return self.administers_a_clinic(request)

    def has_add_permission(self, request):
        return self.administers_a_clinic(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="scopes")
    def scopes_shown(self, obj) -> str:
        return ", ".join(obj.scopes) or "none"

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        # A clinic's administrators issue integration tokens only: offer that job ticked.
        if not request.user.is_superuser:
            initial.setdefault("scopes", [str(scope) for scope in INTEGRATION_DEFAULT_SCOPES])
        return initial

    def get_actions(self, request):
        # The revoke action needs no change permission: it is the one change allowed.
        actions = super().get_actions(request)
        if self.administers_a_clinic(request) and "revoke" not in actions:
            actions["revoke"] = self.get_action("revoke")
        return actions

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            if request.user.is_superuser:
                kwargs["queryset"] = User.objects.filter(is_active=True).order_by("username")
            else:
                kwargs["queryset"] = User.objects.filter(
                    integration__clinic__in=self.admin_clinics(request)
                ).order_by("username")
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        token, obj.prefix, obj.digest = services.new_api_token_secret()
        obj.created_by = request.user
        obj.scopes = validate_scopes(obj.scopes or services.default_token_scopes(user=obj.user))
        super().save_model(request, obj, form, change)
        request._issued_api_token = token  # for response_add, this request only

    def response_add(self, request, obj, post_url_continue=None):
        response = TemplateResponse(
            request,
            "admin/accounts/apitoken/issued.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "token_row": obj,
                "token": request._issued_api_token,
                "title": "API token issued",
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        revoked = services.revoke_api_tokens(tokens=queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
