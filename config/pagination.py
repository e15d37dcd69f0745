"""Cursor pagination that refuses a cursor it did not make with a 400 and a reason.

DRF's CursorPagination answers most malformed cursors with 404 "Invalid cursor", but it
trusts the position inside a well-formed one: a made-up position ("p=abc" against an
integer ordering) reached the queryset and Django raised ValueError (500). Here the
position is checked against the ordering field before any query is built.
"""

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from config.input import ID_MAX

# Cursors this API makes are well under 100 characters.
CURSOR_MAX_CHARS = 512
_ASCII_DIGITS = frozenset("0123456789")


def _integer(position: str) -> bool:
    digits = position.removeprefix("-")
    return (
        0 < len(digits) <= len(str(ID_MAX))
        and _ASCII_DIGITS.issuperset(digits)
        and int(digits) <= ID_MAX
    )


class CheckedCursorPagination(CursorPagination):
    invalid_cursor_message = (
        "This page position (cursor) is not one the API gave out: start again without it."
    )

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model  # decode_cursor checks the position against it
        return super().paginate_queryset(queryset, request, view)

    def _refuse(self) -> serializers.ValidationError:
        return serializers.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and len(encoded) > CURSOR_MAX_CHARS:
            raise self._refuse()
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise self._refuse() from exc
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        if "\x00" in position:
            raise self._refuse()
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except FieldDoesNotExist:
            return  # an ordering through a relation: only the NUL check applies
        if isinstance(field, models.IntegerField):
            if not _integer(position):
                raise self._refuse()
            return
        try:
            field.to_python(position)
        except ValidationError as exc:
            raise self._refuse() from exc
