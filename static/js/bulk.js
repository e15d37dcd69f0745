// Bulk actions on a queue page (workspace/_bulk_form.html): the boxes in the rows, "select
// all on this page", the count in the form's legend, and the selection kept across the
// live refresh's redraws (live.js) and "Load more". After the summary comes back the rows
// are redrawn at once and the focus goes to the summary.
(function () {
  "use strict";

  const picked = new Set(); // item ids selected, kept while the rows are redrawn

  function boxes() {
    return Array.from(document.querySelectorAll("#rows input[data-bulk-item]"));
  }

  function all() {
    return document.getElementById("bulk-all");
  }

  function show() {
    const shown = boxes();
    shown.forEach((box) => (box.checked = picked.has(box.value)));
    // Items that left the page (claimed by someone, moved) are no longer selected.
    const here = new Set(shown.map((box) => box.value));
    Array.from(picked).forEach((id) => here.has(id) || picked.delete(id));
    const count = document.querySelector("[data-bulk-count]");
    if (count) count.textContent = picked.size ? picked.size + " selected" : "none";
    const toggle = all();
    if (toggle) {
      toggle.checked = shown.length > 0 && picked.size === shown.length;
      toggle.indeterminate = picked.size > 0 && picked.size < shown.length;
    }
  }

  document.addEventListener("change", function (event) {
    const box = event.target;
    if (box.matches("input[data-bulk-item]")) {
      if (box.checked) picked.add(box.value);
      else picked.delete(box.value);
      show();
    } else if (box.matches("input[data-bulk-all]")) {
      boxes().forEach((b) => (box.checked ? picked.add(b.value) : picked.delete(b.value)));
      show();
    }
  });

  // The live refresh and "Load more" draw new boxes: check those selected.
  document.addEventListener("htmx:afterSwap", show);

  // The summary is in: redraw the rows now (moved items leave), clear the selection,
  // and take the focus to the summary so it is read first.
  document.addEventListener("bulk-done", function () {
    picked.clear();
    show();
    const poller = document.getElementById("live-rows");
    if (poller && window.htmx) window.htmx.trigger(poller, "live-rows-now");
    const title = document.getElementById("bulk-summary-title");
    if (title) title.focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    boxes().forEach((box) => box.checked && picked.add(box.value)); // kept by the browser
    show();
  });
})();
