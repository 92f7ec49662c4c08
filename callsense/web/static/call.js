// The call page: clicking a turn seeks the recording there; the turn being played is highlighted and kept
// in view; the sentiment strip shows where the playback is; the talk bars and strip marks get their sizes;
// the sentiment trend is drawn as a small line chart.
(() => {
  const player = document.getElementById("player");
  const turns = Array.from(document.querySelectorAll("#turns .turn"));
  const cursor = document.getElementById("strip-cursor");

  // Inline style attributes are refused by the page's Content-Security-Policy, so positions come from data-*.
  for (const band of document.querySelectorAll(".strip .band, .strip .mark")) {
    band.style.left = `${band.dataset.left}%`;
    band.style.width = `${band.dataset.width}%`;
  }
  for (const bar of document.querySelectorAll(".talk-bar")) bar.style.width = `${bar.dataset.width}%`;
  if (!player) return;

  let current = null;
  const highlight = (time) => {
    const playing = turns.find((turn) => time >= Number(turn.dataset.start) && time < Number(turn.dataset.end));
    if (playing === current) return;
    if (current) { current.classList.remove("playing"); current.removeAttribute("aria-current"); }
    current = playing || null;
    if (current) {
      current.classList.add("playing");
      current.setAttribute("aria-current", "true");
      current.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  };

  // Delegated, so that the turns an answer cites (swapped in by htmx later) seek the player too.
  document.addEventListener("click", (event) => {
    const button = event.target.closest(".turn-seek");
    if (!button) return;
    player.currentTime = Number(button.dataset.start);
    highlight(player.currentTime + 0.01);
    player.play().catch(() => {});  // autoplay rules may refuse; the seek still happened
  });
  player.addEventListener("timeupdate", () => {
    highlight(player.currentTime);
    if (cursor && player.duration) cursor.style.left = `${(100 * player.currentTime) / player.duration}%`;
  });
  player.addEventListener("seeked", () => highlight(player.currentTime));
})();

// Each speaker's sentiment per quarter of the call, from the data the server put beside the canvas: one line per
// speaker in its talk-bar colour, each point in its sentiment's badge colour, a silent quarter a gap in the line.
// The values are in the canvas's label and in the "Show the numbers" table, which work without this.
(() => {
  const canvas = document.getElementById("trend-chart");
  const source = document.getElementById("trend-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue(`--${name}`).trim();
  const levelColours = [colour("neg"), colour("neu"), colour("pos")];  // as data.levels: Negative, Neutral, Positive
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = colour("ink-2");
  const shapes = { Agent: "circle", Customer: "rectRot" };  // told apart by shape too, not by colour alone
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.quarters,
      datasets: data.series.map((series) => ({
        label: series.name,
        data: series.values,
        borderColor: colour(series.name.toLowerCase()),
        backgroundColor: colour(series.name.toLowerCase()),
        borderDash: series.name === "Customer" ? [5, 3] : [],
        pointStyle: shapes[series.name] || "circle",
        // The agent's circles are drawn over the customer's larger diamonds: where both felt the same, both show.
        pointRadius: series.name === "Customer" ? 7 : 4,
        pointHoverRadius: series.name === "Customer" ? 8 : 5,
        pointBackgroundColor: series.values.map((level) => (level === null ? undefined : levelColours[level])),
        pointBorderColor: colour(series.name.toLowerCase()),
        pointBorderWidth: 2,
        spanGaps: false,
        clip: false,
      })),
    },
    options: {
      maintainAspectRatio: false,
      layout: { padding: { top: 8, bottom: 4, right: 8 } },
      plugins: {
        legend: { labels: { boxWidth: 14, boxHeight: 8, font: { size: 12 } } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${data.levels[item.raw]}` } },
      },
      scales: {
        x: { grid: { display: false }, ticks: { font: { size: 12 } } },
        y: { min: 0, max: data.levels.length - 1,
          ticks: { stepSize: 1, font: { size: 12 }, callback: (level) => data.levels[level] ?? "" } },
      },
    },
  });
})();
