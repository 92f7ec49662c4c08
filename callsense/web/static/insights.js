// The insights charts, drawn with Chart.js from the same tables the CSV downloads contain.
(() => {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const palette = ["#2f5bea", "#0f9d8a", "#e0a100", "#d1495b", "#7b61ff", "#00a3d7", "#8c6d1f", "#5c6b7a", "#c2185b", "#43a047"];
  // Series by name: the sentiments, and the answers of the outcome chart.
  const colours = { Positive: "#1f9d55", Neutral: "#8a94a6", Negative: "#d1495b", Yes: "#1f9d55", No: "#d1495b", "Not said": "#8a94a6" };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#3b4556";
  Chart.defaults.maintainAspectRatio = false;

  const series = (table, column, colour, extra = {}) => ({
    label: table.columns[column],
    data: table.rows.map((row) => row[column]),
    backgroundColor: colour,
    borderColor: colour,
    ...extra,
  });

  const builders = {
    "bar": (t) => ({ type: "bar", data: { labels: t.rows.map((r) => r[0]), datasets: [series(t, 1, palette[0], { borderRadius: 4 })] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } }),
    "line": (t) => ({ type: "line", data: { labels: t.rows.map((r) => r[0]), datasets: [series(t, 1, palette[1], { tension: 0.3, fill: false })] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } } }),
    "lines": (t) => ({ type: "line", data: { labels: t.rows.map((r) => r[0]),
        datasets: t.columns.slice(1).map((name, i) => series(t, i + 1, palette[i % palette.length], { tension: 0.3, fill: false })) },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } }),
    "stacked-columns": (t) => ({ type: "bar", data: { labels: t.rows.map((r) => r[0]),
        datasets: t.columns.slice(1).map((name, i) => series(t, i + 1, colours[name])) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } }),
    "stacked-bar": (t) => ({ type: "bar", data: { labels: t.rows.map((r) => r[0]),
        datasets: t.columns.slice(1).map((name, i) => series(t, i + 1, colours[name])) },
      options: { indexAxis: "y", scales: { x: { stacked: true, ticks: { precision: 0 } }, y: { stacked: true } } } }),
    "horizontal-bar": (t) => ({ type: "bar", data: { labels: t.rows.map((r) => r[0]),
        datasets: [series(t, 1, palette[4], { borderRadius: 4 })] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } } }),
    // Two scales on one chart: the agent's share of the talk (bottom, percent) and the non-talk time (top).
    "talk-per-agent": (t) => ({ type: "bar", data: { labels: t.rows.map((r) => r[0]),
        datasets: [series(t, 2, palette[0], { label: "agent's share of the talk (%)", xAxisID: "share", borderRadius: 4 }),
          series(t, 3, palette[2], { label: "average non-talk (s)", xAxisID: "quiet", borderRadius: 4 })] },
      options: { indexAxis: "y", scales: {
        share: { position: "bottom", beginAtZero: true, max: 100, title: { display: true, text: "agent's share of the talk (%)" } },
        quiet: { position: "top", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "non-talk (s)" } } } } }),
    "doughnut": (t) => ({ type: "doughnut", data: { labels: t.rows.map((r) => r[0]),
        datasets: [{ label: "calls", data: t.rows.map((r) => r[1]), backgroundColor: palette }] },
      options: { plugins: { legend: { position: "right" } } } }),
  };

  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const table = data[canvas.dataset.chart];
    new Chart(canvas, builders[canvas.dataset.kind](table));
  }
})();
