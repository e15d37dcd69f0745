from django.contrib import admin

from billing.models import TimeEntry


@admin.register(TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "credential", "conversation", "source", "started_at", "seconds")
    list_filter = ("role", "source")
