from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.selectors import (
    CURRENT_CLINIC_SESSION_KEY,
    current_membership,
    memberships_for_user,
)
from config.input import parse_id


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = current_membership(user=request.user, session=request.session)
    if membership is not None and membership.role == Role.BILLING:
        return redirect("billing")
    if membership is not None and membership.role == Role.ADMIN:
        # Administrators configure the clinic; they work no queue (routing/scope.py).
        return redirect("admin:index")
    return redirect("work")


@login_required
@require_POST
def switch_clinic(request: HttpRequest) -> HttpResponse:
    clinic_id = parse_id(request.POST.get("clinic"))
    membership = (
        memberships_for_user(user=request.user).filter(clinic_id=clinic_id).first()
        if clinic_id is not None
        else None
    )
    if membership is None:
        raise Http404("clinic not found")
    request.session[CURRENT_CLINIC_SESSION_KEY] = membership.clinic_id
    return redirect("home")


@login_required
@require_POST
def keep_session_alive(request: HttpRequest) -> HttpResponse:
    """ "Stay signed in" on the idle warning, and typing in a long reply: a person is at
    the screen. The idle middleware records the activity, as for any request."""
    return HttpResponse(status=204)
