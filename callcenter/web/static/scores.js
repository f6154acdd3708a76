// QA scores per agent per week as a line chart (data from the page's JSON block).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("score-data").textContent);
  const canvas = document.getElementById("score-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const colours = ["#0f766e", "#2563eb", "#b45309", "#7c3aed", "#dc2626", "#059669", "#db2777"];
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: data.agents.map((agent, i) => ({
        label: agent.name,
        data: agent.scores,
        spanGaps: true,
        borderColor: colours[i % colours.length],
        backgroundColor: colours[i % colours.length],
        tension: 0.2,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { min: 0, max: 100 } },
    },
  });
})();
