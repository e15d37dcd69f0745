from django.contrib import admin

from config.admin import ReadOnlyAdmin
from triage.models import PatientDataAccess


@admin.register(PatientDataAccess)
class PatientDataAccessAdmin(ReadOnlyAdmin):
    """The access log: filter by patient (MRN), user, clinic or date."""

    list_display = ("at", "user", "patient", "what", "object_id", "clinic")
    list_filter = ("clinic", "what", "at")
    search_fields = ("patient__mrn", "user__username")
    date_hierarchy = "at"
    list_select_related = ("user", "patient", "clinic")
