// A rule replay runs on a worker: show its progress, and show the report when it is done.
(() => {
  const box = document.getElementById("replay-progress");
  if (!box) return;
  const status = document.getElementById("replay-status");
  const bar = document.getElementById("replay-bar");
  const count = document.getElementById("replay-count");
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.statusUrl, { credentials: "same-origin" });
      if (response.ok) {
        const state = await response.json();
        if (state.finished) {
          window.location.reload();
          return;
        }
        bar.max = Math.max(state.total, 1);
        bar.value = state.processed;
        count.textContent = `${state.processed} of ${state.total}`;
        // The live region speaks only when the state changes, not at every count.
        if (status.textContent !== state.status_label) status.textContent = state.status_label;
      }
    } catch (error) {
      // A lost poll is retried at the next tick.
    }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 2000);
})();
