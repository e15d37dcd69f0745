// Quick replies on the work item page (workspace/_quick_reply_picker.html): choosing a
// template puts its text, already filled in for this patient, into the reply box and
// moves focus there to edit it. Nothing is sent here: the person presses "Send reply".
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    const picker = event.target.closest("[data-quick-reply]");
    if (!picker) return;
    const option = picker.selectedOptions[0];
    const reply = document.getElementById("reply-body");
    const missing = document.querySelector("[data-quick-reply-missing]");
    if (!option || !option.value || !reply) return;
    reply.value = option.dataset.body;
    if (missing) {
      missing.textContent = option.dataset.missing
        ? "Fill in before sending: " + option.dataset.missing + " (not on record)."
        : "";
    }
    // Keyboard users choose with the arrow keys; focus moves only on a definite choice
    // (Enter or a click closes the list), not while stepping through the options.
  });

  document.addEventListener("keydown", function (event) {
    const picker = event.target.closest && event.target.closest("[data-quick-reply]");
    if (!picker || event.key !== "Enter" || !picker.value) return;
    event.preventDefault();
    const reply = document.getElementById("reply-body");
    if (reply) {
      reply.focus();
      reply.setSelectionRange(reply.value.length, reply.value.length);
    }
  });
})();
