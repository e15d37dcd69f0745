"""Automated WCAG 2.0/2.1 A and AA audit (axe-core, shipped inside axe-playwright-python)
of every staff and billing page, in the states a person sees them: with and without
data, each acuity, overdue, a selected row, the keyboard help open, success and error
notices. A violation fails the test with the rule, its impact, the offending elements
and axe's help; docs/ui.md ("Accessibility") says what was found and fixed.

Axe checks what a machine can check (names, labels, roles, contrast, lang, ...); the
keyboard tests at the end cover what it cannot: focus order, visible focus and the
single-key shortcuts."""

import datetime
from dataclasses import dataclass, field

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership, Role
from billing import services as billing_services
from billing.models import EVisit, PatientVisit
from inbox.models import OutgoingMessage, Patient
from routing import notes, pending, selectors, services, work_items
from routing.models import RoutingRule, WorkItem
from tests.accounts.factories import ClinicFactory, MembershipFactory, StaffFactory
from tests.browser.pages import PASSWORD, log_out, submit_login
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import routed_item
from tests.triage.factories import ClassificationFactory
from triage.models import Classification

WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_A_AA}, "resultTypes": ["violations"]}


@dataclass
class Audit:
    """Runs axe on a page in one state after another and keeps every violation, so one
    failing run lists all pages at once rather than stopping at the first."""

    axe: Axe = field(default_factory=Axe)
    found: dict[str, list[dict]] = field(default_factory=dict)

    def check(self, page, state: str) -> None:
        self.found[state] = self.axe.run(page, options=AXE_OPTIONS).response["violations"]

    def report(self) -> str:
        lines = []
        for state, violations in self.found.items():
            for v in violations:
                lines.append(f"[{state}] {v['id']} ({v['impact']}): {v['help']} - {v['helpUrl']}")
                for node in v["nodes"]:
                    lines.append(f"    {' '.join(map(str, node['target']))}")
                    lines.append(f"        {node['failureSummary']}".replace("\n", "\n        "))
        return "\n".join(lines)

    def assert_clean(self) -> None:
        if any(self.found.values()):
            pytest.fail("WCAG 2.1 A/AA violations:\n" + self.report(), pytrace=False)


@pytest.fixture
def audit():
    return Audit()


def log_in(page, username):
    submit_login(page, username)
    expect(page.locator("h1")).to_be_visible()
    # htmx binds its controls once its deferred script has run: a key pressed before
    # that lands on a plain button and does nothing.
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")


def clinic_with_every_acuity():
    """A nurse of two clinics (so the clinic switcher shows) and a nurse pool holding an
    emergent (auto-replied), an urgent with red flags, an overdue routine and a closed
    item; the physician holds one with a reply, a running timer and logged time."""
    clinic = ClinicFactory(name="Oncology - Pasadena")
    nurse = StaffFactory(username="rn.audit", clinic=clinic, role=Role.NURSE)
    MembershipFactory(user=nurse, clinic=ClinicFactory(name="Primary Care"), role=Role.NURSE)
    physician = StaffFactory(username="dr.audit", clinic=clinic, role=Role.PHYSICIAN)
    Membership.objects.filter(user=physician).update(credential="MD")
    emergent = routed_item(
        clinic, acuity="emergent", subject="Crushing chest pain", body="Since an hour."
    )
    urgent = routed_item(clinic, acuity="urgent", subject="Fever on chemo", body="38.6 C")
    Classification.objects.filter(message=urgent.message).update(
        red_flags=[{"name": "febrile_neutropenia", "evidence": "fever on chemo"}],
        needs_review=True,
        evisit_candidate=True,
    )
    # The phone as a tel: link, the "Called the patient" form and a call in the history.
    Patient.objects.filter(pk=urgent.conversation.patient_id).update(phone="+1 (626) 555-0142")
    work_items.record_patient_call(actor=nurse, item_id=urgent.pk, outcome="voicemail")
    overdue = routed_item(clinic, acuity="routine", subject="Refill", body="Two weeks left.")
    WorkItem.objects.filter(pk=overdue.pk).update(
        due_at=timezone.now() - datetime.timedelta(hours=3)
    )
    closed = routed_item(clinic, acuity="routine", subject="Thanks", body="All good now.")
    work_items.claim(actor=nurse, item_id=closed.pk)
    work_items.close(actor=nurse, item_id=closed.pk)
    held = routed_item(clinic, acuity="routine", level="physician", subject="Rash")
    work_items.claim(actor=physician, item_id=held.pk)
    reply = work_items.respond(actor=physician, item_id=held.pk, body="Please send a photo.")
    OutgoingMessage.objects.filter(pk=reply.pk).update(delivered_at=timezone.now())
    billing_services.log_minutes(actor=physician, item_id=held.pk, minutes=6)
    billing_services.start_timer(actor=physician, item_id=held.pk)
    return {"emergent": emergent, "urgent": urgent, "closed": closed, "held": held}


def test_login_pages_have_no_wcag_violations(page, audit):
    StaffFactory(username="rn.login", role=Role.NURSE)
    page.goto("/login/")
    audit.check(page, "login")
    page.goto("/login/?idle=1")
    audit.check(page, "login, signed out when idle")
    page.get_by_label("Username").fill("rn.login")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    audit.check(page, "login, wrong password")
    audit.assert_clean()


def test_queue_pages_have_no_wcag_violations(page, audit, monkeypatch):
    clinic_with_every_acuity()
    # Two rows a page, so "Load more" shows without building 50 items.
    monkeypatch.setitem(selectors.queue_page.__kwdefaults__, "limit", 2)
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)  # the live refresh's first page too
    log_in(page, "rn.audit")
    expect(page.locator("#queue-title")).to_have_text("Nurse triage")
    expect(page.locator("tbody#rows .acuity-emergent")).to_be_visible()
    audit.check(page, "queue: nurse triage, emergent first")

    page.get_by_role("button", name="Load more").click()
    expect(page.locator("tbody#rows tr[data-item-url]")).to_have_count(3)
    expect(page.locator("tbody#rows tr.overdue")).to_have_count(1)
    page.keyboard.press("j")
    expect(page.locator("tbody#rows tr.selected")).to_have_count(1)
    audit.check(page, "queue: all acuities, overdue row, a row selected")

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    audit.check(page, "queue: keyboard help open")
    page.keyboard.press("Escape")

    page.goto("/work/?queue=mine")
    expect(page.locator("tbody#rows")).to_contain_text("Nothing waiting here.")
    audit.check(page, "queue: my work, empty")
    page.get_by_role("button", name="Claim next (n)").click()
    expect(page.locator("#thread-title")).to_contain_text("Crushing chest pain")
    page.goto("/work/?queue=mine")
    expect(page.locator("tbody#rows")).to_contain_text("Crushing chest pain")
    audit.check(page, "queue: my work, a claimed emergent item")
    log_out(page)

    log_in(page, "dr.audit")
    expect(page.locator("#queue-title")).to_have_text("Physician")
    audit.check(page, "queue: physician pool, empty")
    audit.assert_clean()


def test_work_item_pages_have_no_wcag_violations(page, audit):
    items = clinic_with_every_acuity()
    log_in(page, "rn.audit")
    page.goto(f"/work/items/{items['emergent'].pk}/")
    expect(page.locator("#thread-title .acuity-emergent")).to_be_visible()
    audit.check(page, "detail: emergent, open, auto-reply not yet delivered")

    page.goto(f"/work/items/{items['urgent'].pk}/")
    page.keyboard.press("c")
    expect(page.locator(".flash")).to_contain_text("Claimed")
    audit.check(page, "detail: urgent, red flags, claimed, success notice")

    page.get_by_role("button", name="Reassign").click()  # nothing chosen: the browser asks
    page.select_option("#reassign-target", "role:nurse")
    page.get_by_label("Reason", exact=True).fill(" ")  # a blank reason: refused
    page.get_by_role("button", name="Reassign").click()
    expect(page.locator(".flash .error")).to_be_visible()
    audit.check(page, "detail: error notice")

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    audit.check(page, "detail: keyboard help open")
    page.keyboard.press("Escape")

    page.goto(f"/work/items/{items['closed'].pk}/")
    expect(page.locator("[data-status]")).to_have_text("Closed")
    audit.check(page, "detail: closed")
    log_out(page)

    log_in(page, "dr.audit")
    page.goto(f"/work/items/{items['held'].pk}/")
    expect(page.locator("#timer")).to_have_text("Stop timer (t)")
    audit.check(page, "detail: physician, reply delivered, timer running, time logged")
    audit.assert_clean()


def test_quick_reply_and_internal_note_have_no_wcag_violations(page, audit):
    # The picker with a template chosen (no clinic phone on record: the hint to fill it
    # in shows) and an internal note in the thread beside a reply.
    clinic = ClinicFactory(name="Oncology - Pasadena")
    nurse = StaffFactory(username="rn.audit", clinic=clinic, role=Role.NURSE)
    patient = PatientFactory(clinic=clinic, name="María López", preferred_language="es")
    item = routed_item(clinic, conversation=ConversationFactory(patient=patient), subject="Cita")
    work_items.respond(actor=nurse, item_id=item.pk, body="Hola María, ¿el martes?")
    notes.add_internal_note(actor=nurse, item_id=item.pk, body="Prefers mornings.")
    log_in(page, "rn.audit")
    page.goto(f"/work/items/{item.pk}/")
    expect(page.locator("[data-internal-note]")).to_contain_text("Prefers mornings.")
    page.get_by_label("Quick reply (q)").select_option("builtin:appointment-received-es")
    expect(page.locator("[data-quick-reply-missing]")).to_contain_text("{clinic_phone}")
    audit.check(page, "detail: quick reply chosen, internal note in the thread")
    audit.assert_clean()


def test_bulk_actions_have_no_wcag_violations(page, audit):
    # A clerk's queue: row boxes, the bulk form, a selection, a summary with refusals.
    clinic = ClinicFactory(name="Oncology - Pasadena")
    StaffFactory(username="fd.audit", clinic=clinic, role=Role.CLERICAL)
    routed_item(clinic, level="clerical", subject="Copy of my scan report")
    routed_item(clinic, acuity="urgent", level="clerical", subject="Insurance denied")
    log_in(page, "fd.audit")
    expect(page.locator("#rows input[data-bulk-item]")).to_have_count(2)
    audit.check(page, "queue: clerk, bulk form, nothing selected")

    page.get_by_label("Select all on this page").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("2 selected")
    audit.check(page, "queue: clerk, all on the page selected")

    page.get_by_role("button", name="Claim selected").click()
    expect(page.locator("[data-bulk-refused] li")).to_have_count(1)
    audit.check(page, "queue: bulk summary, one done, one refused")

    page.get_by_role("button", name="Close selected").click()  # nothing selected
    expect(page.locator("[data-bulk-error]")).to_be_visible()
    audit.check(page, "queue: bulk refused as a whole")
    audit.assert_clean()


def test_pending_and_patient_context_have_no_wcag_violations(page, audit):
    # The pend form, a pended item, the patient's earlier conversations opened, the
    # pending list with an item and empty (routing.pending, routing.patient_context).
    clinic = ClinicFactory(name="Oncology - Pasadena")
    nurse = StaffFactory(username="rn.audit", clinic=clinic, role=Role.NURSE)
    patient = PatientFactory(clinic=clinic)
    item = routed_item(
        clinic, acuity="urgent", conversation=ConversationFactory(patient=patient), subject="Arm"
    )
    routed_item(clinic, conversation=ConversationFactory(patient=patient), subject="Port flush")
    log_in(page, "rn.audit")
    page.goto("/work/pending")
    expect(page.locator("[data-no-pending]")).to_be_visible()
    audit.check(page, "pending: none")

    page.goto(f"/work/items/{item.pk}/")
    expect(page.locator("[data-pend-form]")).to_be_visible()
    page.get_by_role("link", name="Show this patient's other conversations").click()
    expect(page.locator("[data-patient-context]")).to_contain_text("Port flush")
    audit.check(page, "detail: pend form, earlier conversations open")

    pending.pend(
        actor=nurse,
        item_id=item.pk,
        reason="Ultrasound",
        event="result",
        until=timezone.now() + datetime.timedelta(days=1),
    )
    page.reload()
    expect(page.locator("[data-pended-state]")).to_be_visible()
    audit.check(page, "detail: pended until a result")
    page.goto("/work/pending")
    expect(page.locator("[data-pending-table]")).to_contain_text("Ultrasound")
    audit.check(page, "pending: one item")
    audit.assert_clean()


def test_scope_of_practice_refusals_and_reopen_have_no_wcag_violations(page, audit):
    # What a clerk sees on an urgent message (the reasons, "Send to nurse triage") and
    # after a refused close; a nurse's closed item with its reopen form.
    clinic = ClinicFactory(name="Oncology - Pasadena")
    StaffFactory(username="clerk.audit", clinic=clinic, role=Role.CLERICAL)
    nurse = StaffFactory(username="rn.reopen", clinic=clinic, role=Role.NURSE)
    urgent = routed_item(clinic, acuity="urgent", level="clerical", subject="Billing, urgent")
    closed = routed_item(clinic, acuity="routine", subject="Thanks", body="All good now.")
    work_items.close(actor=nurse, item_id=closed.pk, reason="answered")

    log_in(page, "clerk.audit")
    page.goto(f"/work/items/{urgent.pk}/")
    expect(page.get_by_role("button", name="Send to nurse triage")).to_be_visible()
    audit.check(page, "detail: outside the clerk's scope, send to nurse triage")
    page.goto(f"/work/items/{closed.pk}/")
    expect(page.locator("[data-read-only]")).to_be_visible()
    audit.check(page, "detail: closed, read-only for a clerk")
    log_out(page)

    log_in(page, "rn.reopen")
    page.goto(f"/work/items/{closed.pk}/")
    page.get_by_role("button", name="Reopen").click()  # no reason: the browser asks
    page.get_by_label("Reason to reopen").fill("The patient called back")
    page.get_by_role("button", name="Reopen").click()
    expect(page.locator(".flash")).to_contain_text("Reopened")
    expect(page.locator("[data-status]")).to_have_text("Open")
    audit.check(page, "detail: reopened, success notice")
    audit.assert_clean()


def test_billing_pages_have_no_wcag_violations(page, audit):
    clinic = ClinicFactory(name="Primary Care - Downtown")
    physician = StaffFactory(username="dr.bill", clinic=clinic, role=Role.PHYSICIAN)
    Membership.objects.filter(user=physician).update(credential="MD", npi="1234567893")
    nurse = StaffFactory(username="rn.bill", clinic=clinic, role=Role.NURSE)
    billing = StaffFactory(username="billing.audit", clinic=clinic, role=Role.BILLING)
    now = timezone.now()
    evisits = {}
    for name, consent, who, minutes in [
        ("Rosa Diaz", True, physician, 12),  # a 99422 candidate
        ("Ada Ng", False, physician, 8),  # needs consent
        ("Tom Roe", True, nurse, 30),  # not billable: nurse time only
        ("Eve Ito", True, physician, 25),  # approved and exported below
    ]:
        patient = PatientFactory(
            clinic=clinic,
            name=name,
            evisit_consent_at=now - datetime.timedelta(days=100) if consent else None,
        )
        PatientVisit.objects.create(patient=patient, on=(now - datetime.timedelta(days=90)).date())
        message = ClassificationFactory(
            message__conversation=ConversationFactory(patient=patient),
            service_level="physician",
        ).message
        item = services.route(message_id=message.pk)
        billing_services.log_minutes(actor=who, item_id=item.pk, minutes=minutes)
        evisits[name] = EVisit.objects.get(conversation=item.conversation)
    billing_services.approve(actor=billing, ids=[evisits["Eve Ito"].pk], reason="documented")
    billing_services.export_approved(actor=billing, export_format="csv")

    log_in(page, "billing.audit")
    expect(page.locator("h1")).to_have_text("E-visits")
    expect(page.locator("tr[data-evisit]")).to_have_count(2)
    audit.check(page, "billing: e-visits to review, an export")
    page.get_by_label("Status").select_option("all")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-evisit]")).to_have_count(4)
    audit.check(page, "billing: all e-visits")
    page.get_by_role("button", name="Approve selected").click()  # nothing selected
    expect(page.locator(".flash")).to_be_visible()
    audit.check(page, "billing: notice after a review")
    page.locator("tr[data-evisit]", has_text="Ada Ng").get_by_role("checkbox").check()
    page.get_by_role("button", name="Approve selected").click()  # needs consent: refused
    expect(page.locator(".flash .warning")).to_contain_text("No cost-share consent")
    audit.check(page, "billing: an approval refused, with the reason")

    page.goto(f"/billing/evisits/{evisits['Rosa Diaz'].pk}/")
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    audit.check(page, "billing: candidate with the review form")
    page.goto(f"/billing/evisits/{evisits['Tom Roe'].pk}/")
    expect(page.get_by_role("heading", name="Why not billable")).to_be_visible()
    audit.check(page, "billing: not billable, with reasons")

    page.goto("/billing/revenue")
    page.wait_for_function("() => window.Chart !== undefined")
    audit.check(page, "billing: revenue")
    audit.assert_clean()


def test_revenue_page_without_e_visits_has_no_wcag_violations(page, audit):
    StaffFactory(username="billing.empty", role=Role.BILLING)
    log_in(page, "billing.empty")
    audit.check(page, "billing: e-visits, none")
    page.goto("/billing/revenue")
    audit.check(page, "billing: revenue, none")
    audit.assert_clean()


def test_search_and_filters_have_no_wcag_violations(page, audit):
    clinic_with_every_acuity()
    log_in(page, "rn.audit")
    page.goto("/work/search")
    audit.check(page, "search: empty form")
    page.get_by_label("Search by MRN, patient name or words of a message").fill("chest")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("[data-queue-table] tbody tr")).to_have_count(1)
    audit.check(page, "search: a word, one result")
    page.goto("/work/search?acuity=urgent&needs_review=1&due=&assignee=nobody&language=en")
    expect(page.locator("[data-queue-table]")).to_contain_text("Fever on chemo")
    audit.check(page, "search: filters alone")
    page.goto("/work/search?q=nothing-like-this&acuity=bogus")
    expect(page.locator("main")).to_contain_text("Not understood and left out")
    audit.check(page, "search: no result, a value not understood")
    audit.assert_clean()


def test_a_not_found_page_has_no_wcag_violations(page, audit):
    StaffFactory(username="rn.lost", role=Role.NURSE)
    log_in(page, "rn.lost")
    assert page.goto("/work/items/999999/").status == 404
    audit.check(page, "not found")
    audit.assert_clean()


# --- what axe cannot check: keyboard, focus, reflow ---------------------------------------


def queue_with_three_items(monkeypatch):
    clinic_with_every_acuity()
    monkeypatch.setitem(selectors.queue_page.__kwdefaults__, "limit", 2)
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)  # the live refresh's first page too


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/rgba() colours."""

    def luminance(css: str) -> float:
        channels = [int(float(c)) for c in css[css.index("(") + 1 : -1].split(",")[:3]]
        linear = [
            c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
            for c in channels
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted([luminance(first), luminance(second)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_skip_link_is_the_first_tab_stop_and_leads_to_the_queue(page, monkeypatch):
    queue_with_three_items(monkeypatch)
    log_in(page, "rn.audit")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the first control after the skip target
    expect(page.locator("#main a").first).to_be_focused()


def test_focus_outline_stands_out_from_the_header_and_the_page(page, monkeypatch):
    # WCAG 1.4.11: a focus indicator needs 3:1 against the colours next to it.
    queue_with_three_items(monkeypatch)
    log_in(page, "rn.audit")
    header = page.locator("header.top").evaluate("e => getComputedStyle(e).backgroundColor")
    rings = []  # (control, outline style, outline colour, background around it)
    page.keyboard.press("Tab")  # the skip link
    in_header = True
    while in_header:  # every header control, then the first control of the page
        page.keyboard.press("Tab")
        name, style, colour, in_header = page.evaluate(
            """() => { const e = document.activeElement, s = getComputedStyle(e);
            return [e.id || e.textContent.trim().slice(0, 20), s.outlineStyle, s.outlineColor,
                    !!e.closest("header.top")]; }"""
        )
        rings.append((name, style, colour, header if in_header else "rgb(255, 255, 255)"))
    assert len(rings) == 6  # brand, clinic, Switch, Keys, Log out; then My work
    weak = [ring for ring in rings if ring[1] == "none" or contrast(ring[2], ring[3]) < 3]
    assert weak == []


def test_enter_on_another_control_does_what_that_control_does(page, monkeypatch):
    queue_with_three_items(monkeypatch)
    log_in(page, "rn.audit")
    page.keyboard.press("j")  # a row is selected ...
    expect(page.locator("tr.selected")).to_have_count(1)
    page.get_by_role("button", name="Load more").focus()  # ... but focus is elsewhere
    page.keyboard.press("Enter")
    expect(page.locator("tbody#rows tr[data-item-url]")).to_have_count(3)
    expect(page.locator("#queue-title")).to_have_text("Nurse triage")  # still on the queue


def test_load_more_moves_focus_to_the_first_new_row(page, monkeypatch):
    queue_with_three_items(monkeypatch)
    log_in(page, "rn.audit")
    more = page.get_by_role("button", name="Load more")
    more.focus()
    page.keyboard.press("Enter")
    third = page.locator("tbody#rows tr[data-item-url]").nth(2)
    expect(third.get_by_role("link")).to_be_focused()
    page.keyboard.press("k")  # j/k go on from there
    expect(page.locator("tbody#rows tr[data-item-url]").nth(1)).to_have_class("selected")


def test_focus_stays_on_a_queue_link_when_the_counts_refresh(page, monkeypatch):
    queue_with_three_items(monkeypatch)
    page.clock.install()
    log_in(page, "rn.audit")
    pool = page.get_by_role("link", name="Clerical pool")
    pool.focus()
    with page.expect_response(lambda r: "/work/counts" in r.url):
        page.clock.run_for(16_000)  # one background refresh of the counts
    page.wait_for_timeout(100)  # the swap settles
    expect(page.get_by_role("link", name="Clerical pool")).to_be_focused()


def test_keyboard_help_takes_focus_and_gives_it_back(page, monkeypatch):
    queue_with_three_items(monkeypatch)
    log_in(page, "rn.audit")
    keys = page.get_by_role("button", name="Keys (?)")
    keys.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Keyboard")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.contains(document.activeElement)")
    page.keyboard.press("j")  # the queue behind a modal help stays as it was
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(keys).to_be_focused()
    expect(page.locator("tr.selected")).to_have_count(0)


def test_single_key_shortcuts_can_be_turned_off(page, monkeypatch):
    # WCAG 2.1.4: speech input users say words, which arrive as letters.
    queue_with_three_items(monkeypatch)
    log_in(page, "rn.audit")
    page.keyboard.press("?")
    toggle = page.get_by_label("Single-key shortcuts")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    page.keyboard.press("Escape")
    page.reload()  # the choice is remembered
    page.keyboard.press("j")
    page.keyboard.press("?")
    expect(page.locator("tr.selected")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Keys (?)").click()  # help stays reachable
    page.get_by_label("Single-key shortcuts").check()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(page.locator("tr.selected")).to_have_count(1)


def test_choosing_a_clinic_does_not_switch_until_asked(page, monkeypatch):
    # WCAG 3.2.2: changing a setting must not change the context by itself.
    queue_with_three_items(monkeypatch)
    log_in(page, "rn.audit")
    page.get_by_label("Clinic").select_option(label="Primary Care (Nurse)")
    page.wait_for_timeout(300)
    expect(page.locator("tbody#rows tr[data-item-url]")).to_have_count(2)  # same clinic
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("tbody#rows")).to_contain_text("Nothing waiting here.")


def test_pages_reflow_at_320_css_pixels(page, monkeypatch):
    # WCAG 1.4.10: 1280 px at 400 % zoom. Wide tables scroll inside their own region.
    items = clinic_with_every_acuity()
    StaffFactory(username="billing.narrow", role=Role.BILLING)
    page.set_viewport_size({"width": 320, "height": 640})
    wide = {}
    pages = {
        "rn.audit": ["/work/", f"/work/items/{items['urgent'].pk}/", "/work/search?q=chest"],
        "billing.narrow": ["/billing/", "/billing/revenue"],
    }
    page.goto("/login/")
    wide["/login/"] = page.evaluate("document.documentElement.scrollWidth")
    for username, urls in pages.items():
        log_in(page, username)
        for url in urls:
            page.goto(url)
            wide[url] = page.evaluate("document.documentElement.scrollWidth")
        log_out(page)
    assert {url: width for url, width in wide.items() if width > 320} == {}


def test_rule_builder_with_errors_and_rule_order_have_no_wcag_violations(page):
    # The admin's rule form (rows and drop-downs, no JSON) with a plain error beside each
    # field, and the "Order rules" page. The admin's stock breadcrumbs are left out
    # (link-in-text-block, docs/ui.md), as on the rule test page.
    from tests.browser.test_rule_builder import clinic_administrators_group

    clinic = ClinicFactory(name="Oncology - Pasadena")
    admin_user = StaffFactory(username="admin.a11y", clinic=clinic, role=Role.ADMIN, is_staff=True)
    admin_user.groups.add(clinic_administrators_group())
    for order, name in ((1, "Ports to line care"), (2, "Refills")):
        RoutingRule.objects.create(
            clinic=clinic, name=name, order=order, action={"raise_acuity": "urgent"}
        )
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("admin.a11y")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    axe, found = Axe(), {}
    context = {"exclude": [[".breadcrumbs"]]}

    page.goto("/admin/routing/routingrule/add/")
    page.get_by_label("Name").fill("Evenings")
    page.get_by_label("Order").fill("3")
    page.get_by_label("Received from (clinic time)").fill("17:00")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Give both times, or neither.")).to_be_visible()
    found["rule form with errors"] = axe.run(page, context=context, options=AXE_OPTIONS)
    page.goto("/admin/routing/routingrule/order/")
    found["order rules"] = axe.run(page, context=context, options=AXE_OPTIONS)

    assert {
        state: [(v["id"], [n["target"] for n in v["nodes"]]) for v in result.response["violations"]]
        for state, result in found.items()
        if result.response["violations"]
    } == {}
