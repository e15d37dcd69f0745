// The operations dashboard's chart: median hours to first response, one line per acuity
// over the weeks, from the json_script block the canvas names (no inline script: CSP).
(function () {
  "use strict";
  const canvas = document.querySelector("[data-operations-chart]");
  if (!canvas || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(document.getElementById(canvas.dataset.operationsChart).textContent);
  const colours = { emergent: "#b00020", urgent: "#c46a00", routine: "#1f6f43" };
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: Object.keys(data.series).map(function (acuity) {
        return {
          label: acuity.charAt(0).toUpperCase() + acuity.slice(1),
          data: data.series[acuity],
          borderColor: colours[acuity],
          backgroundColor: colours[acuity],
          spanGaps: true,
        };
      }),
    },
    options: {
      responsive: true,
      animation: false,
      scales: {
        y: { beginAtZero: true, title: { display: true, text: "hours (median)" } },
        x: { title: { display: true, text: "week of receipt (Monday)" } },
      },
    },
  });
})();
