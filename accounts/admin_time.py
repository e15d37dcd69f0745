"""The Django admin in clinic time (issue 24). Staff screens show times in the clinic's
zone; the admin used to show and take UTC, so an on-call shift typed as 08:00 in Pasadena
started at midnight. Now:

- every /admin/ page runs in the zone of the clinic the person works in (the clinic
  switcher's choice, `AdminClinicTimeMiddleware`), named in the admin's header;
- a clinic-scoped admin page (`ClinicTimeAdmin`, mixed into ClinicScopedAdmin) runs in the
  zone of the clinic of the object being edited, or of the clinic picked on an add form or
  in the list's clinic filter, and names that zone beside every date-time field and column:
  "Starts at (America/Los_Angeles)".

Django converts what is typed in a date-time field from the active zone and shows stored
values in it, so activating the right zone before the form is built and the page drawn is
the whole conversion; values stay stored in UTC."""

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.text import capfirst

from accounts.models import Clinic
from accounts.selectors import current_membership


def zone_label(text: str) -> str:
    """A field or column name with the active zone: "Starts at (America/Los_Angeles)"."""
    return f"{capfirst(text)} ({timezone.get_current_timezone_name()})"


def person_clinic_zone(request: HttpRequest) -> ZoneInfo | None:
    """The zone of the clinic the person works in now, if they are staff of any."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    membership = current_membership(user=user, session=request.session)
    return ZoneInfo(membership.clinic.time_zone) if membership is not None else None


class AdminClinicTimeMiddleware:
    """Every admin page in the zone of the person's current clinic (a superuser who is
    staff of no clinic keeps the server's zone, which the header names). Restored when the
    response is done: the thread serves other people next."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/admin/"):
            return self.get_response(request)
        # `override` restores the previous zone on the way out, also the one a view below
        # (ClinicTimeAdmin) activated for its own clinic.
        with timezone.override(person_clinic_zone(request)):
            return self.get_response(request)


class ClinicTimeAdmin:
    """Mixed into ClinicScopedAdmin: the page runs in the clinic's zone and names it.
    Uses `clinic_ids_of` and `admin_clinics` of ClinicScopedAdmin."""

    def _clinic_zone(self, request: HttpRequest, clinic_id) -> ZoneInfo | None:
        """The zone of a clinic given by id, only when the person may see it here."""
        try:
            clinic_id = int(clinic_id)
        except (TypeError, ValueError):
            return None
        clinics = Clinic.objects.all()
        if not request.user.is_superuser:
            clinics = self.admin_clinics(request)
        zone = clinics.filter(pk=clinic_id).values_list("time_zone", flat=True).first()
        return ZoneInfo(zone) if zone else None

    def _activate_zone_for(self, request: HttpRequest, obj=None) -> None:
        zone = None
        if obj is not None:
            ids = self.clinic_ids_of(obj)
            zone = self._clinic_zone(request, next(iter(ids))) if len(ids) == 1 else None
        elif request.method == "POST":
            # An add form: what is typed is in the zone of the clinic it is for.
            zone = self._clinic_zone(request, request.POST.get("clinic"))
        else:
            zone = self._clinic_zone(request, request.GET.get("clinic"))
        if zone is None and not request.user.is_superuser:
            # The person's current clinic when they administer it, else the one clinic
            # they administer (an add form whose clinic is not chosen yet).
            zone = person_clinic_zone(request)
            zones = set(self.admin_clinics(request).values_list("time_zone", flat=True))
            if zone is None or str(zone) not in zones:
                zone = ZoneInfo(zones.pop()) if len(zones) == 1 else zone
        if zone is not None:
            # Not deactivated here: the page is drawn after this method returns;
            # AdminClinicTimeMiddleware restores the zone when the response is done.
            timezone.activate(zone)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        self._activate_zone_for(request, obj)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._activate_zone_for(request, self.get_object(request, unquote(object_id)))
        return super().history_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        # A list filtered to one clinic is shown in that clinic's zone.
        clinic_id = request.GET.get("clinic__id__exact") or request.GET.get("clinic")
        zone = self._clinic_zone(request, clinic_id) if clinic_id else None
        if zone is not None:
            timezone.activate(zone)
        else:
            self._activate_zone_for(request)
        return super().changelist_view(request, extra_context)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and isinstance(db_field, models.DateTimeField):
            formfield.label = zone_label(db_field.verbose_name)
        return formfield

    def get_list_display(self, request):
        """Date-time columns headed with the zone their values are shown in."""
        shown = list(super().get_list_display(request))
        links = set(self.list_display_links or ())
        editable = set(self.list_editable or ())
        return [
            _zoned_column(self.model, name)
            if isinstance(name, str) and name not in links | editable
            else name
            for name in shown
        ]


def _zoned_column(model, name: str):
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a method or property: shown as it is
        return name
    if not isinstance(field, models.DateTimeField):
        return name

    def column(obj):
        return getattr(obj, name)

    # get_list_display runs in changelist_view after the zone is activated.
    column.short_description = zone_label(field.verbose_name)
    column.admin_order_field = name
    column.__name__ = name
    return column
