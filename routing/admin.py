from django.contrib import admin

from routing.models import Queue


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "clinic", "role", "is_role_default")
    list_filter = ("clinic", "role")
