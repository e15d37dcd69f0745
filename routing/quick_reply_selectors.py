"""The quick replies offered on a work item's reply form: the built-in ones and the
clinic's own, for the person's role in the item's clinic, in the patient's language
first, with the placeholders filled in (routing.quick_replies)."""

from accounts.models import Clinic, User
from routing import clinic_settings, quick_replies
from routing.models import QuickReply, WorkItem


def clinic_phone(*, clinic: Clinic) -> str:
    """The clinic's office line ({clinic_phone}): ClinicRouting.office_phone, set in the
    admin's clinic routing settings; "" when none is set (the placeholder stays)."""
    return clinic_settings.clinic_routing(clinic=clinic).office_phone.strip()


def staff_name(user: User) -> str:
    return user.get_full_name().strip() or user.get_username()


def templates_for(*, clinic_id: int, role: str) -> list[quick_replies.Template]:
    """Built-in templates and the clinic's active ones offered to `role`. A clinic's own
    template with the title and language of a built-in one takes its place."""
    own = [
        quick_replies.Template(
            f"clinic:{reply.pk}",
            reply.title,
            reply.language,
            reply.body,
            (reply.role,) if reply.role else (),
        )
        for reply in QuickReply.objects.filter(clinic_id=clinic_id, active=True).order_by("pk")
    ]
    own = [t for t in own if t.offered_to(role)]
    replaced = {(t.title.lower(), t.language) for t in own}
    built_in = [
        t
        for t in quick_replies.BUILT_IN
        if t.offered_to(role) and (t.title.lower(), t.language) not in replaced
    ]
    return built_in + own


def quick_replies_for(*, user: User, item: WorkItem) -> list[quick_replies.Filled]:
    """What the reply form's picker offers `user` on `item`: nothing to a role that does
    not answer patients; the patient's language first."""
    role = clinic_settings.membership_role(user_id=user.pk, clinic=item.clinic_id)
    if role not in {value for value, _ in QuickReply._meta.get_field("role").choices}:
        return []
    patient = item.conversation.patient
    language = quick_replies.language_of(patient.preferred_language)
    values = {
        quick_replies.PATIENT_FIRST_NAME: quick_replies.first_name(patient.name),
        quick_replies.CLINIC_PHONE: clinic_phone(clinic=item.clinic),
        quick_replies.STAFF_NAME: staff_name(user),
    }
    ordered = quick_replies.order_for(
        templates_for(clinic_id=item.clinic_id, role=role), language=language
    )
    return [quick_replies.fill(template, values) for template in ordered]
