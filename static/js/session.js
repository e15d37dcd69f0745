// Idle sign-out with a warning first (WCAG 2.2.1). The server signs a session out after
// SESSION_IDLE_TIMEOUT_SECONDS without a request from a person; typing a long reply
// makes no request, so keys and clicks here tell the server someone is at the screen
// (at most one small request per interval), and before the time runs out a dialog
// offers one click to stay. A reply typed and then sent is never met by a login page.
(function () {
  "use strict";

  const body = document.body;
  const timeout = Number(body.dataset.idleTimeout || 0) * 1000;
  const url = body.dataset.keepAliveUrl;
  const dialog = document.getElementById("idle-warning");
  if (!timeout || !url || !dialog) return;

  const warnBefore = Math.min(120000, timeout / 3);
  const tellEvery = Math.min(60000, timeout / 4);
  let serverSawUs = Date.now(); // the page's own request counted as activity
  let lastSent = serverSawUs;
  let lastActivity = serverSawUs;
  let signedOut = false;
  let staying = false; // "Stay signed in" was pressed and its request is on its way

  function csrfToken() {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function goToLogin() {
    if (signedOut) return;
    signedOut = true;
    // A GET of this page: the server signs the session out and shows the login page.
    window.location.assign(window.location.pathname + window.location.search);
  }

  // The clock counts from what the server has confirmed hearing, never from a request
  // still on its way: a request that hangs on a bad network and then fails must not
  // have held the warning back until the time was already up.
  function keepAlive() {
    const sentAt = Date.now();
    lastSent = sentAt;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    })
      .then((response) => {
        if (response.redirected || !response.ok) goToLogin();
        else serverSawUs = Math.max(serverSawUs, sentAt);
      })
      .catch(() => {
        // Network trouble: the server did not hear us; the warning still counts from
        // what it last heard, and the next activity tries again.
      });
  }

  // Only noted here; the clock below tells the server, at most once per interval.
  function onActivity() {
    if (dialog.open) return; // only the dialog's button extends from here
    lastActivity = Date.now();
  }

  ["keydown", "pointerdown", "input"].forEach((name) =>
    document.addEventListener(name, onActivity, true)
  );

  function describe(ms) {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    if (seconds >= 90) return `${Math.round(seconds / 60)} minutes`;
    return seconds === 1 ? "1 second" : `${seconds} seconds`;
  }

  const left = dialog.querySelector("[data-idle-left]");
  dialog.querySelector("[data-stay-signed-in]").addEventListener("click", () => {
    staying = true;
    lastActivity = Date.now();
    dialog.close();
    // Until the server answers, the dialog does not come back; if it did not hear us,
    // the next tick shows it again.
    keepAlive().finally(() => {
      staying = false;
    });
  });

  window.setInterval(() => {
    if (signedOut) return;
    const now = Date.now();
    if (lastActivity > serverSawUs && now - lastSent >= tellEvery) keepAlive();
    const remaining = timeout - (now - serverSawUs);
    if (remaining <= 0) {
      goToLogin();
    } else if (remaining <= warnBefore) {
      left.textContent = describe(remaining);
      if (!dialog.open && !staying) dialog.showModal();
    }
  }, 1000);
})();
