"""What the work item page shows of quick replies and internal notes (routing.quick_replies,
routing.notes): the picker's templates, filled in for this patient, clinic and person,
and the notes placed in the thread in order. The page itself is logged as a message
thread view (workspace.views.work_item), notes included."""

from accounts.models import User
from routing import notes, quick_replies
from routing.models import WorkItem
from routing.quick_reply_selectors import quick_replies_for


def thread_with_notes(thread: list[dict], *, item: WorkItem) -> list[dict]:
    """The thread's entries (oldest first) with the conversation's internal notes among
    them by time; a note entry says so (`note`), so it is drawn apart from any reply."""
    entries = [
        {"note": True, "who": note.author.get_username(), "at": note.created_at, "body": note.body}
        for note in notes.notes_of_conversation(conversation_id=item.conversation_id)
    ]
    # sorted() is stable: at the same instant, messages stay before notes.
    return sorted([*thread, *entries], key=lambda entry: entry["at"])


def reply_form_context(*, user: User, item: WorkItem) -> dict:
    patient_language = quick_replies.language_of(item.conversation.patient.preferred_language)
    offered = quick_replies_for(user=user, item=item)
    groups = []
    for language, label in quick_replies.LANGUAGES.items():
        options = [
            {
                "key": o.key,
                "title": o.title,
                "language": o.language,
                "body": o.body,
                "missing": ", ".join("{" + name + "}" for name in o.missing),
            }
            for o in offered
            if o.language == language
        ]
        if options:
            suffix = " (patient's language)" if language == patient_language else ""
            groups.append({"label": label + suffix, "language": language, "options": options})
    groups.sort(key=lambda g: g["language"] != patient_language)
    return {"quick_reply_groups": groups, "note_max_chars": notes.NOTE_MAX_CHARS}
