// LGSP console: draws the overview chart with the bundled Chart.js from
// the data the server put in #chart-data (no inline script: the pages'
// Content-Security-Policy allows scripts from the node only).
(function () {
  "use strict";
  var data = document.getElementById("chart-data");
  var canvas = document.getElementById("traffic-chart");
  if (!data || !canvas || typeof Chart === "undefined") { return; }
  var d = JSON.parse(data.textContent);
  new Chart(canvas, {
    type: "line",
    data: {
      labels: d.labels,
      datasets: [
        { label: d.docsLabel, data: d.docs, borderColor: "#0b3d6b", backgroundColor: "rgba(11,61,107,0.15)", fill: true, tension: 0.2 },
        { label: d.failedLabel, data: d.failed, borderColor: "#a3191a", backgroundColor: "rgba(163,25,26,0.15)", fill: false, tension: 0.2 }
      ]
    },
    options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  document.documentElement.setAttribute("data-chart", "drawn");
})();
