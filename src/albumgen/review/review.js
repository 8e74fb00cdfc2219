// albumgen review, served page only: the three actions, and live updates while a build runs.
// Text from the album only ever arrives escaped by the server (templates with autoescape) or
// is set with textContent here; nothing is built from strings a track title could break out of.
"use strict";
(function () {
  const live = () => document.body.dataset.live === "1";
  const token = new URLSearchParams(location.search).get("token") || "";

  function say(text, isError) {
    const msg = document.getElementById("message");
    if (!msg) return;
    msg.textContent = text;
    msg.classList.toggle("error", !!isError);
  }

  async function act(button) {
    // A keep button in the takes table carries its track; the cards' buttons sit in a box that does.
    const body = { action: button.dataset.action, track: button.closest("[data-track]").dataset.track };
    if (body.action === "keep") body.take = parseInt(button.dataset.take, 10);
    if (body.action === "more") body.count = parseInt(button.closest(".actions").querySelector(".more-count").value, 10);
    button.disabled = true;
    try {
      const r = await fetch("/api/action?token=" + encodeURIComponent(token), {
        method: "POST", headers: { "Content-Type": "application/json", "X-Albumgen-Token": token },
        body: JSON.stringify(body),
      });
      const reply = await r.json().catch(() => ({ error: "HTTP " + r.status }));
      say(r.ok ? reply.message : reply.error, !r.ok);
      await poll(true);
    } catch (e) {
      say("the review server did not answer: " + e, true);
    } finally {
      button.disabled = false;
      setDisabled();
    }
  }

  // The build command beside pending choices: to the clipboard, or selected where the
  // browser will not share its clipboard.
  function copy(button) {
    const code = document.getElementById(button.dataset.copy);
    const text = code.textContent;
    const done = () => { button.textContent = "copied"; setTimeout(() => { button.textContent = "copy"; }, 1500); };
    const select = () => { const r = document.createRange(); r.selectNodeContents(code);
      const s = getSelection(); s.removeAllRanges(); s.addRange(r); };
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, select); else select();
  }

  document.addEventListener("click", (ev) => {
    const t = ev.target;
    if (!(t instanceof HTMLElement)) return;
    if (t.dataset.copy) copy(t);
    else if (t.dataset.action && live()) act(t);
  });

  const playing = (el) => Array.from(el.querySelectorAll("audio")).some((a) => !a.paused && !a.ended);

  // Swap only the blocks whose key changed, so a playing take keeps playing. Blocks are
  // the main element's children (pages.py); a new one goes after its predecessor.
  function patch(container, html) {
    const fresh = document.createElement("template");
    fresh.innerHTML = html;  // made by the server, every album string escaped there
    const old = new Map(Array.from(container.children).map((el) => [el.id, el]));
    let previous = null;
    for (const el of Array.from(fresh.content.children)) {
      const have = old.get(el.id);
      old.delete(el.id);
      let node = el;
      if (have && (have.dataset.key === el.dataset.key || playing(have))) node = have;
      else if (have) have.replaceWith(el);
      else if (previous) previous.after(el);
      else container.prepend(el);
      previous = node;
    }
    old.forEach((el) => { if (!playing(el)) el.remove(); });
  }

  function setDisabled() {
    const busy = !!document.querySelector("#progress .running");
    document.querySelectorAll("button[data-action]").forEach((b) => {
      b.disabled = busy;
      b.title = busy ? "a build is running: try again when it has finished" : "";
    });
  }

  let polling = false;
  async function poll(force) {
    if (!live() || (polling && !force)) return;
    polling = true;
    try {
      const since = force ? "" : document.body.dataset.version;
      const url = "/api/poll?view=" + encodeURIComponent(document.body.dataset.view) +
        "&since=" + encodeURIComponent(since) + "&token=" + encodeURIComponent(token);
      const r = await fetch(url);
      if (!r.ok) return;
      const state = await r.json();
      if (state.version === document.body.dataset.version && !force) return;
      document.body.dataset.version = state.version;
      if (state.progress !== undefined) document.getElementById("progress").innerHTML = state.progress;
      if (state.main !== undefined) patch(document.getElementById("main"), state.main);
      setDisabled();
    } catch (e) {
      // the server went away: keep the page as it is
    } finally {
      polling = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!live()) return;
    setDisabled();
    setInterval(poll, 1500);
  });
})();
