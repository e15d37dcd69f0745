"""The clinic's quick replies in the admin (imported by routing.admin): administrators
add, change and switch off their clinics' templates; the built-in ones are listed beside
them. A template naming an unknown placeholder is refused when saved, saying which
(QuickReply.clean)."""

from django.contrib import admin

from accounts.admin_scoping import ClinicScopedAdmin
from accounts.models import Role
from routing import quick_replies
from routing.models import QuickReply

ROLE_LABELS = dict(Role.choices)


@admin.register(QuickReply)
class QuickReplyAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    list_display = ("title", "clinic", "language", "role_shown", "active", "updated_at")
    list_filter = ("clinic", "language", "role", "active")
    search_fields = ("title",)
    fields = ("clinic", "title", "role", "language", "body", "active")
    change_list_template = "admin/routing/quickreply/change_list.html"

    @admin.display(description="role", ordering="role")
    def role_shown(self, obj: QuickReply) -> str:
        return obj.get_role_display() if obj.role else "every role"

    def changelist_view(self, request, extra_context=None):
        built_in = [
            {
                "title": t.title,
                "language": quick_replies.LANGUAGES[t.language],
                "roles": ", ".join(ROLE_LABELS[r] for r in t.roles) or "every role",
                "body": t.body,
            }
            for t in quick_replies.BUILT_IN
        ]
        context = {"built_in_quick_replies": built_in, **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)
