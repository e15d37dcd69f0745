"""accounts.permissions.TokenScope on views of its own, apart from the routes (those are
swept in tests/config/test_token_scopes.py): a view that names no scope takes no token
(fail closed), HEAD and OPTIONS count as GET, a session needs no scope."""

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.models import Role
from accounts.services import issue_api_token
from tests.accounts.factories import StaffFactory

pytestmark = pytest.mark.django_db


class Undeclared(APIView):
    def get(self, request):
        return Response({"ok": True})


class Declared(Undeclared):
    required_scopes = {"GET": "work:read"}


def call(view, method: str, *, token=None, user=None):
    request = getattr(APIRequestFactory(), method)("/api/v1/probe")
    force_authenticate(request, user=user or token.user, token=token)
    return view.as_view()(request)


def test_a_view_that_names_no_scope_refuses_every_token_and_says_why():
    nurse = StaffFactory(role=Role.NURSE)
    row, _ = issue_api_token(user=nurse, created_by=None, scopes=["work:read", "work:write"])

    response = call(Undeclared, "get", token=row)

    assert response.status_code == 403
    assert "does not accept API tokens" in str(response.data["detail"])


@pytest.mark.parametrize("method", ["get", "head", "options"])
def test_head_and_options_need_the_get_scope(method):
    nurse = StaffFactory(role=Role.NURSE)
    reader, _ = issue_api_token(user=nurse, created_by=None, scopes=["work:read"])
    writer, _ = issue_api_token(user=nurse, created_by=None, scopes=["work:write"])

    assert call(Declared, method, token=reader).status_code == 200
    refused = call(Declared, method, token=writer)
    assert refused.status_code == 403
    assert "'work:read'" in str(refused.data["detail"])


def test_a_method_the_view_does_not_serve_is_405_not_a_scope_refusal():
    row, _ = issue_api_token(user=StaffFactory(role=Role.NURSE), created_by=None)

    assert call(Declared, "post", token=row).status_code == 405


def test_a_signed_in_session_needs_no_scope():
    nurse = StaffFactory(role=Role.NURSE)

    assert call(Declared, "get", user=nurse).status_code == 200


def test_an_unknown_scope_is_not_issued():
    with pytest.raises(ValueError, match="work:everything"):
        issue_api_token(user=StaffFactory(), created_by=None, scopes=["work:everything"])
