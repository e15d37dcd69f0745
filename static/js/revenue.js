(function () {
  "use strict";
  const data = JSON.parse(JSON.parse(document.getElementById("revenue-data").textContent));
  new Chart(document.getElementById("revenue-chart"), {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Captured ($)", data: data.captured, backgroundColor: "#1f6f43" },
        { label: "Missed ($)", data: data.missed, backgroundColor: "#b00020" },
      ],
    },
    options: { responsive: true, animation: false, scales: { y: { beginAtZero: true } } },
  });
})();
