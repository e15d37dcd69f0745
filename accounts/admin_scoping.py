from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet

from accounts.admin_time import ClinicTimeAdmin
from accounts.models import Clinic, Membership, Role
from accounts.selectors import clinics_for_user


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw id field that names only rows of `offered` (the field's scoped choices)."""

    offered: QuerySet | None = None

    def label_and_url_for_value(self, value):
        if self.offered is not None and value not in ("", None):
            try:
                if not self.offered.filter(pk=value).exists():
                    return "", ""
            except (TypeError, ValueError, ValidationError):
                return "", ""
        return super().label_and_url_for_value(value)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit and work records: looked at in the admin, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def within_clinics(queryset: QuerySet, clinics: QuerySet[Clinic]) -> QuerySet:
    """The rows of `queryset` (a clinic, a user or anything with a `clinic`) that belong to
    `clinics`; nothing for a model whose clinic is not known here (fail closed)."""
    model = queryset.model
    if issubclass(model, Clinic):
        return queryset.filter(pk__in=clinics.values("pk"))
    if issubclass(model, get_user_model()):
        members = Membership.objects.filter(clinic__in=clinics).values("user_id")
        return queryset.filter(pk__in=members)
    clinic_field = next((f for f in model._meta.fields if f.name == "clinic"), None)
    if clinic_field is not None and clinic_field.related_model is Clinic:
        return queryset.filter(clinic__in=clinics)
    return queryset.none()


class ClinicScopedAdmin(ClinicTimeAdmin):
    """For a ModelAdmin whose rows belong to a clinic. A superuser sees everything; any
    other staff user sees, picks and saves only the rows of the clinics where they are
    an administrator (a Role.ADMIN membership), whatever their model permissions say:

    - lists, object pages, history and delete pages only find those clinics' rows
      (another clinic's object is "not found");
    - every foreign key (and many-to-many) offers only those clinics, their users and
      their objects, so a form naming another clinic's row does not validate;
    - saving an object that does not belong to one of those clinics is refused (403).

    `clinic_lookup` is the ORM path from the model to its clinic (e.g.
    "patient__clinic"); override `scope_to_clinics` and `clinic_ids_of` together when one
    path is not enough.

    Times on its pages are in the clinic's zone, named (accounts/admin_time.py)."""

    clinic_lookup = "clinic"

    def admin_clinics(self, request) -> QuerySet[Clinic]:
        return clinics_for_user(user=request.user, role=Role.ADMIN)

    def scope_to_clinics(self, queryset: QuerySet, clinics: QuerySet[Clinic]) -> QuerySet:
        return queryset.filter(**{f"{self.clinic_lookup}__in": clinics})

    def clinic_ids_of(self, obj: Model) -> set[int]:
        """The clinics an object (saved or not) belongs to, following `clinic_lookup`."""
        *path, last = self.clinic_lookup.split("__")
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                return set()
        clinic_id = getattr(obj, f"{last}_id", None)
        return {clinic_id} if clinic_id is not None else set()

    def administers_a_clinic(self, request) -> bool:
        """A superuser, or an administrator of at least one clinic."""
        user = request.user
        return user.is_active and (user.is_superuser or self.admin_clinics(request).exists())

    def has_module_permission(self, request):
        """Staff who administer no clinic get no app headings on the admin index (their
        lists would be empty anyway)."""
        if not self.administers_a_clinic(request):
            return False
        return super().has_module_permission(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return self.scope_to_clinics(queryset, self.admin_clinics(request))

    def get_list_filter(self, request):
        """Filters on a relation list only the related rows the scoped list shows (not
        every clinic's name)."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        relations = {f.name for f in self.model._meta.fields if f.is_relation}
        return [
            (f, admin.RelatedOnlyFieldListFilter) if isinstance(f, str) and f in relations else f
            for f in filters
        ]

    def _scoped_choices(self, db_field, request, kwargs) -> None:
        if request.user.is_superuser:
            return
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
        if queryset is None:
            queryset = db_field.related_model._default_manager.using(kwargs.get("using"))
        kwargs["queryset"] = within_clinics(queryset, self.admin_clinics(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and isinstance(formfield.widget, ForeignKeyRawIdWidget):
            # The id field prints the label of whatever id it is given (from the URL or a
            # posted form): only for rows the field offers, never another clinic's.
            formfield.widget.__class__ = ScopedRawIdWidget
            formfield.widget.offered = formfield.queryset
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            allowed = set(self.admin_clinics(request).values_list("pk", flat=True))
            if not self.clinic_ids_of(obj) & allowed:
                raise PermissionDenied("not one of your clinics")
        super().save_model(request, obj, form, change)


class SuperuserOnlyAdmin:
    """For a ModelAdmin of rows that belong to no one clinic (users, clinics, the fee
    schedule): only superusers see or change them, whatever permissions a staff user
    holds, so a clinic administrator cannot grant themselves more or change other
    clinics' settings."""

    def _superuser(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request)

    def has_add_permission(self, request, *args):
        return self._superuser(request)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request)


class SuperuserOnlyRecordsAdmin(SuperuserOnlyAdmin, ReadOnlyAdmin):
    """Records that belong to no one clinic (failed sign-ins, model versions): superusers
    look at them and run the admin's actions; nobody adds, edits or deletes one by hand."""

    has_add_permission = ReadOnlyAdmin.has_add_permission
    has_change_permission = ReadOnlyAdmin.has_change_permission
    has_delete_permission = ReadOnlyAdmin.has_delete_permission
