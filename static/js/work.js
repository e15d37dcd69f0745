// Keyboard use of the staff screens and the SLA countdown. No framework; htmx does the
// partial reloads. Keys never fire while typing in a field, behind the open help, or
// when the person has turned single-key shortcuts off (WCAG 2.1.4).
(function () {
  "use strict";

  const SHORTCUTS_KEY = "portal-triage.shortcuts";

  function shortcutsOn() {
    try {
      return window.localStorage.getItem(SHORTCUTS_KEY) !== "off";
    } catch (error) {
      return true; // storage blocked: keep the default
    }
  }

  function setShortcuts(on) {
    try {
      window.localStorage.setItem(SHORTCUTS_KEY, on ? "on" : "off");
    } catch (error) {
      // storage blocked: the choice lasts until the page is left
    }
  }

  function typing(event) {
    const el = event.target;
    // A row's box (bulk actions) is not typed into: j / k / x go on working from it.
    if (el && el.type === "checkbox" && el.matches("[data-bulk-item], [data-bulk-all]")) return false;
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function rows() {
    return Array.from(document.querySelectorAll("[data-queue-table] tbody tr[data-item-url]"));
  }

  function select(delta) {
    const all = rows();
    if (!all.length) return;
    let index = all.findIndex((r) => r.classList.contains("selected"));
    index = index < 0 ? 0 : Math.max(0, Math.min(all.length - 1, index + delta));
    selectAt(all, index);
  }

  function selectAt(all, index) {
    all.forEach((r) => r.classList.remove("selected"));
    all[index].classList.add("selected");
    const link = all[index].querySelector("a");
    if (link) link.focus();
  }

  function click(id) {
    const el = document.getElementById(id);
    if (el) el.click();
  }

  function focus(id) {
    const el = document.getElementById(id);
    if (el) el.focus();
  }

  const keys = {
    j: () => select(1),
    k: () => select(-1),
    Enter: () => {
      const row = document.querySelector("tr.selected[data-item-url]");
      if (row) window.location = row.dataset.itemUrl;
    },
    n: () => click("claim-next"),
    c: () => click("claim"),
    r: () => focus("reply-body"),
    q: () => focus("quick-reply"),
    a: () => focus("reassign-target"),
    e: () => focus("escalate-reason"),
    t: () => click("timer"),
    x: () => {
      // Bulk actions (clerk, MA): the selected row's box, as a click would.
      const box = document.querySelector("tr.selected input[data-bulk-item]");
      if (box) box.click();
    },
    "?": () => document.getElementById("help").showModal(),
    "/": () => focus("work-search-q"),
  };

  // Enter opens the selected row only when focus is on that row or nowhere in particular;
  // on a button or another link it does what that control does.
  function enterOpensRow() {
    const row = document.querySelector("tr.selected[data-item-url]");
    const focused = document.activeElement;
    return row && (!focused || focused === document.body || row.contains(focused));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (!shortcutsOn() || document.querySelector("dialog[open]")) return;
    const action = keys[event.key];
    if (!action) return;
    if (event.key === "Enter" && !enterOpensRow()) return;
    event.preventDefault();
    action();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help]")) document.getElementById("help").showModal();
  });

  document.addEventListener("DOMContentLoaded", function () {
    const toggle = document.getElementById("shortcuts-toggle");
    if (!toggle) return;
    toggle.checked = shortcutsOn();
    toggle.addEventListener("change", () => setShortcuts(toggle.checked));
  });

  // "Load more" replaces its own row, which held the focus: put focus on the first new
  // row instead of dropping it to the top of the page.
  let more = null; // the "Load more" request in flight, and how many rows were there
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.closest("tr.more")) more = { xhr: event.detail.xhr, count: rows().length };
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!more || event.detail.xhr !== more.xhr) return; // e.g. the counts' refresh
    const all = rows();
    if (all.length > more.count) selectAt(all, more.count);
    more = null;
  });

  function countdown() {
    const now = Date.now();
    document.querySelectorAll("time[data-due]").forEach(function (el) {
      const due = Date.parse(el.getAttribute("datetime"));
      let minutes = Math.round((due - now) / 60000);
      const late = minutes < 0;
      minutes = Math.abs(minutes);
      const text = minutes >= 1440 ? Math.floor(minutes / 1440) + "d " + Math.floor((minutes % 1440) / 60) + "h"
        : minutes >= 60 ? Math.floor(minutes / 60) + "h " + (minutes % 60) + "m" : minutes + "m";
      el.textContent = late ? "overdue " + text : "in " + text;
      el.title = new Date(due).toLocaleString();
      const row = el.closest("tr");
      if (row) row.classList.toggle("overdue", late);
    });
  }

  document.addEventListener("DOMContentLoaded", countdown);
  document.addEventListener("htmx:afterSwap", countdown);
  setInterval(countdown, 30000);
})();
