from django.conf import settings

from accounts.admin_link import may_administer
from accounts.selectors import current_membership, memberships_for_user


def clinic_switcher(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_memberships": memberships_for_user(user=user),
        "current_membership": current_membership(user=user, session=request.session),
        # Called only by a page that draws the header link (a query for staff users only).
        "may_administer": lambda: may_administer(user=user),
    }


def idle_timeout(request) -> dict:
    # For the idle warning (static/js/session.js); the middleware enforces the timeout.
    return {"idle_timeout_seconds": settings.SESSION_IDLE_TIMEOUT_SECONDS}
