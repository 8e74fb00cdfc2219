// albumgen review: play the album in order, one player at a time (also in the export).
"use strict";
(function () {
  let inOrder = false;

  function start(audio) {
    document.querySelectorAll(".track-row.playing").forEach((r) => r.classList.remove("playing"));
    audio.closest(".track-row").classList.add("playing");
    audio.currentTime = 0;
    audio.play();
  }

  document.addEventListener("click", (ev) => {
    if (!(ev.target instanceof HTMLElement) || ev.target.id !== "play-all") return;
    const first = document.querySelector("audio.master");
    if (first) { inOrder = true; start(first); }
  });

  // The next track is looked up when one ends: the live page may have swapped rows since.
  document.addEventListener("ended", (ev) => {
    if (!inOrder || !(ev.target instanceof HTMLAudioElement) || !ev.target.matches("audio.master")) return;
    const all = Array.from(document.querySelectorAll("audio.master"));
    const next = all[all.indexOf(ev.target) + 1];
    ev.target.closest(".track-row").classList.remove("playing");
    if (next) start(next); else inOrder = false;
  }, true);

  // One take or track at a time, as a person would listen.
  document.addEventListener("play", (ev) => {
    document.querySelectorAll("audio").forEach((a) => { if (a !== ev.target) a.pause(); });
  }, true);
})();
