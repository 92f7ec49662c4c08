// The call page: clicking a turn seeks the recording there; the turn being played is highlighted and kept
// in view; the sentiment strip shows where the playback is; the talk bars and strip marks get their sizes.
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
