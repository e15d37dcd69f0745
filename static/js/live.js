// Live arrival on a queue page (docs/ui.md, "Live arrival"). htmx polls the rows every 3 s
// (#live-rows in work.html); this script says how many rows the page shows and which
// version of them it holds, skips the poll while the tab is hidden (unless the person
// asked for the emergent alert), keeps the selected row and the focus across a redraw,
// and tells of emergent items the page had not seen before: a screen reader status
// always, a short beep and a browser notification for those who opted in. The
// notification names the queue only: no patient, subject or message text, since it may
// show on a locked screen.
(function () {
  "use strict";

  const seen = new Set(); // every item id this page has shown: an alert is for a new one
  let kept = null; // the selected row and the focus, across a redraw
  let audio = null;

  function poller() {
    return document.getElementById("live-rows");
  }

  function rows() {
    return Array.from(document.querySelectorAll("#rows tr[data-item-id]"));
  }

  function remember() {
    rows().forEach((row) => seen.add(row.dataset.itemId));
  }

  function alertOn() {
    const toggle = document.getElementById("arrival-alert-toggle");
    return !!toggle && toggle.getAttribute("aria-pressed") === "true";
  }

  function fromPoller(event) {
    const el = poller();
    return !!el && event.detail.requestConfig && event.detail.requestConfig.elt === el;
  }

  // --- the poll -----------------------------------------------------------------------

  document.addEventListener("htmx:configRequest", function (event) {
    const el = poller();
    if (!el || event.detail.elt !== el) return;
    event.detail.parameters.shown = rows().length;
    event.detail.parameters.version = el.dataset.version || "";
    el.dataset.sentShown = String(rows().length);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    // A hidden tab does not poll, unless it has to ring: the alert is most useful when
    // the person is looking at another window.
    if (event.detail.elt === poller() && document.hidden && !alertOn()) event.preventDefault();
  });

  document.addEventListener("visibilitychange", function () {
    const el = poller();
    if (el && !document.hidden) window.htmx.trigger(el, "live-rows-now"); // catch up at once
  });

  document.addEventListener("work-rows-changed", function (event) {
    const el = poller();
    if (el && event.detail && event.detail.version) el.dataset.version = event.detail.version;
  });

  // --- keeping the selection and focus across a redraw -----------------------------------

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!fromPoller(event) || !event.detail.shouldSwap) return;
    const el = poller();
    if (rows().length !== Number(el.dataset.sentShown)) {
      // "Load more" added rows while this poll was out: its answer is for fewer rows and
      // would take them away again. Drop it and ask again for what the page shows now.
      event.detail.shouldSwap = false;
      window.setTimeout(() => window.htmx.trigger(el, "live-rows-now"), 0);
      return;
    }
    const all = rows();
    const selected = all.find((row) => row.classList.contains("selected"));
    const focused = document.activeElement;
    const inRows = focused && document.getElementById("rows").contains(focused);
    const focusedRow = inRows ? focused.closest("tr[data-item-id]") : null;
    kept = {
      selected: place(all, selected),
      focused: place(all, focusedRow), // e.g. a row's link reached with Tab
      more: !!(inRows && focused.closest("tr.more")),
    };
  });

  function place(all, row) {
    return row ? { id: row.dataset.itemId, index: all.indexOf(row) } : null;
  }

  function find(all, where) {
    if (!where) return null;
    const row = all.find((r) => r.dataset.itemId === where.id);
    // The item left the page (claimed, moved): the row now in its place.
    return row || (all.length ? all[Math.min(where.index, all.length - 1)] : null);
  }

  function restore() {
    if (!kept) return;
    const all = rows();
    const selected = find(all, kept.selected);
    if (selected) selected.classList.add("selected");
    const focusedRow = find(all, kept.focused);
    const target = focusedRow
      ? focusedRow.querySelector("a")
      : kept.more
        ? document.querySelector("#rows tr.more button")
        : null;
    if (target) target.focus({ preventScroll: true });
    kept = null;
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!fromPoller(event)) {
      remember(); // e.g. "Load more": rows that were there before, not arrivals
      return;
    }
    restore();
    const fresh = rows().filter((row) => !seen.has(row.dataset.itemId));
    fresh.forEach((row) => row.classList.add("arrived")); // a fading highlight (app.css)
    remember();
    const emergent = fresh.filter((row) => row.dataset.acuity === "emergent");
    if (emergent.length) arrived(emergent);
  });

  // --- telling the person ------------------------------------------------------------------

  function arrived(emergent) {
    const queue = emergent[0].dataset.queue;
    const title =
      emergent.length === 1
        ? "Emergent message in " + queue
        : emergent.length + " emergent messages in " + queue;
    const status = document.getElementById("arrival-status");
    if (status) status.textContent = title;
    if (!alertOn()) return;
    beep();
    notify(title, emergent[0].dataset.itemId);
  }

  function notify(title, itemId) {
    if (!("Notification" in window) || window.Notification.permission !== "granted") return;
    // Nothing but the queue's name: a notification can show on a locked screen. The tag
    // is the item, so two open tabs of the same queue show it once.
    const notification = new window.Notification(title, {
      tag: "emergent-" + itemId,
      requireInteraction: true,
    });
    notification.onclick = function () {
      window.focus();
      notification.close();
    };
  }

  function audioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    // Browsers start audio only after a click or key press on the page (see unlock below).
    if (audio.state === "suspended") audio.resume().catch(function () {});
    return audio;
  }

  function beep() {
    const context = audioContext();
    if (!context) return;
    const start = context.currentTime + 0.01;
    [0, 0.25].forEach(function (offset) {
      // Two short 880 Hz tones, faded in and out so they do not click.
      const tone = context.createOscillator();
      const gain = context.createGain();
      const at = start + offset;
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      tone.connect(gain);
      gain.connect(context.destination);
      tone.start(at);
      tone.stop(at + 0.2);
    });
  }

  function explain() {
    const note = document.getElementById("arrival-alert-note");
    if (!note) return;
    let text = "";
    if (alertOn() && !("Notification" in window)) {
      text = "This browser cannot show notifications: the sound only.";
    } else if (alertOn() && window.Notification.permission === "denied") {
      text = "Notifications are blocked for this site in the browser's settings: the sound only.";
    }
    if (note.textContent !== text) note.textContent = text;
  }

  function askForNotifications() {
    if ("Notification" in window && window.Notification.permission === "default") {
      window.Notification.requestPermission().then(explain, explain);
    }
  }

  // The toggle: turning it on is a click, the one moment a browser lets a page ask for
  // notifications and start its sound; the beep says what it will sound like.
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("#arrival-alert-toggle");
    if (!toggle || toggle.getAttribute("aria-pressed") === "true") return;
    askForNotifications();
    beep();
  });

  // Opted in earlier: the first click or key press on this page starts the sound (and asks
  // for notifications if this browser never answered).
  function unlock() {
    if (!alertOn()) return;
    audioContext();
    askForNotifications();
    document.removeEventListener("pointerdown", unlock, true);
    document.removeEventListener("keydown", unlock, true);
  }
  document.addEventListener("pointerdown", unlock, true);
  document.addEventListener("keydown", unlock, true);

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.id === "arrival-alert") explain();
  });

  document.addEventListener("DOMContentLoaded", function () {
    remember(); // what is there on load is not an arrival
    explain();
  });
})();
