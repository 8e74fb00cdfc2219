"""HTML for the review page and the static export. Every piece of text from the album
(titles and prompts an LLM wrote, reasons, file names) goes through esc(), so a title like
`<img src=x onerror=alert(1)>` shows as characters. Blocks carry a data-key that changes
when their content does, so the live page swaps only what changed and a playing take keeps
playing."""
from __future__ import annotations

import base64
import os
from html import escape
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from ..engine.store.hashing import sha256_json


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


class LiveUrls:
    """Links for the served page: every one carries the token."""

    live = True

    def __init__(self, token: str):
        self.q = f"token={quote(token)}"

    def file(self, rel: str) -> str:
        return f"/files/{quote(rel)}?{self.q}"

    def picture(self, kind: str, unit: str, sha256: str | None) -> str:
        return f"/picture/{kind}/{quote(unit)}.png?h={(sha256 or '')[:16]}&{self.q}"

    def track(self, tid: str) -> str:
        return f"/track/{quote(tid)}?{self.q}"

    def album(self) -> str:
        return f"/?{self.q}"

    def static(self, name: str) -> str:
        return f"/static/{name}?{self.q}"


class ExportUrls:
    """Links for the shared report: audio by relative path into the album folder,
    pictures inline, so the file and the album folder travel together."""

    live = False

    def __init__(self, album_dir: Path, out_dir: Path, picture):
        self.prefix = Path(os.path.relpath(album_dir, out_dir)).as_posix()
        self.make_picture = picture  # (kind, unit) -> PNG path

    def file(self, rel: str) -> str:
        return quote(f"{self.prefix}/{rel}" if self.prefix != "." else rel)

    def picture(self, kind: str, unit: str, sha256: str | None) -> str:
        data = self.make_picture(kind, unit).read_bytes()
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")

    def track(self, tid: str) -> str:
        return f"#{quote(tid)}"

    def album(self) -> str:
        return "#album"


def asset(name: str) -> str:
    return resources.files("albumgen.review").joinpath(name).read_text("utf-8")


def document(title: str, view: str, main: str, progress: str, urls, version: str = "") -> str:
    if urls.live:
        head = (f'<link rel="stylesheet" href="{esc(urls.static("review.css"))}">'
                f'<script src="{esc(urls.static("play.js"))}" defer></script>'
                f'<script src="{esc(urls.static("review.js"))}" defer></script>')
        progress_box = (f'<aside id="progress" aria-live="polite">{progress}</aside>'
                        f'<p id="message" role="status"></p>')
    else:  # one file: inline style and the play-all script, no actions, no polling
        head = f"<style>{asset('review.css')}</style><script>{asset('play.js')}</script>"
        progress_box = ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title>{head}</head>"
            f'<body data-view="{esc(view)}" data-version="{esc(version)}" data-live="{int(urls.live)}">'
            f'{progress_box}<main id="main">{main}</main></body></html>')


def block(id_: str, key_parts: object, inner: str, tag: str = "section", cls: str = "") -> str:
    key = sha256_json(key_parts)[:16]
    return f'<{tag} id="{esc(id_)}" class="{esc(cls)}" data-key="{key}">{inner}</{tag}>'


def _db(value: object, unit: str) -> str:
    return f"{value:.1f} {unit}" if isinstance(value, (int, float)) else "-"


def pick_words(pick: dict | None) -> str:
    return f"take {pick['take']} ({pick['how']})" if pick else "not picked yet"


def album_main(album: dict, urls) -> str:
    cover = (f'<img class="cover" src="{esc(urls.file(album["cover"]))}" alt="cover" width="220" height="220">'
             if album["cover"] else '<div class="cover none">no cover yet</div>')
    mastered = sum(1 for t in album["tracks"] if t["master"])
    head = (f'{cover}<div><h1 class="album-title">{esc(album["title"])}</h1>'
            f'<p class="artist">{esc(album["artist"])}</p>'
            f'<p>{len(album["tracks"])} tracks, {mastered} mastered</p>'
            f'<button type="button" id="play-all"{"" if mastered else " disabled"}>&#9654; play all in order</button>'
            f"</div>")
    parts = [block("album", [album["title"], album["artist"], album["cover"], mastered], head, cls="album-head")]
    parts += [_album_row(t, urls) for t in album["tracks"]]
    return "".join(parts)


def _album_row(t: dict, urls) -> str:
    m = t["master"]
    title = f'<a class="track-title" href="{esc(urls.track(t["id"]))}">{esc(t["title"])}</a>'
    info = f'<span class="pick">{esc(pick_words(t["pick"]))}</span> <span class="takes">{t["takes"]} takes</span>'
    if m:
        audio = f'<audio class="master" controls preload="none" src="{esc(urls.file(m["file"]))}"></audio>'
        meter = (f'<span class="loudness">{esc(_db(m["loudness"], "LUFS"))}</span> '
                 f'<span class="peak">{esc(_db(m["true_peak"], "dBTP"))} true peak</span>')
        pic = (f'<img class="pic loudness-pic" src="{esc(urls.picture("master", t["id"], m["sha256"]))}" '
               f'alt="loudness over time of track {t["n"]}" width="800" height="120">')
        body = f"{audio}<div class=\"meters\">{meter}</div>{pic}"
    else:
        body = '<p class="pending">not mastered yet</p>'
    inner = (f'<h2><span class="n">{t["n"]:02d}</span> {title}</h2><p class="info">{info}</p>'
             f'<p class="prompt">{esc(t["prompt"])}</p>{body}')
    return block(f"row-{t['id']}", [t], inner, cls="track-row")


def track_main(t: dict, urls, nav: str = "") -> str:
    pick = t["pick"]
    notes = []
    if t.get("override") and (not pick or pick["how"] != "manual" or pick["take"] != t["override"]):
        notes.append(f"take {t['override']} kept by hand: the next build picks and masters it")
    if pick is None and t.get("override") is None:
        notes.append("the picker has not seen this track yet")
    pending = t.get("more_takes", 0) - (pick or {}).get("more_takes", 0)
    if pending > 0:
        notes.append(f"{pending} more take{'s' * (pending != 1)} asked for: the next build renders them")
    skipped = "".join(f"<li>{esc(name)} skipped: {esc(why)}</li>" for name, why in t.get("skipped", {}).items())
    actions = ""
    if urls.live:
        actions = (f'<div class="actions" data-track="{esc(t["id"])}">'
                   f'<button type="button" data-action="auto">let the picker choose</button> '
                   f'<label>render <input type="number" class="more-count" min="1" max="32" value="2"> '
                   f'more takes</label> <button type="button" data-action="more">render more takes</button></div>')
    head = (f'{nav}<h1 class="track-title">{t["n"]:02d}. {esc(t["title"])}</h1>'
            f'<p class="prompt">{esc(t["prompt"])}</p>'
            f'<p class="pick">picked: <strong>{esc(pick_words(pick))}</strong></p>'
            + "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
            + (f'<ul class="skipped">{skipped}</ul>' if skipped else "") + actions)
    parts = [block(f"head-{t['id']}", [t["title"], t["prompt"], pick, notes, t.get("skipped")], head,
                   cls="track-head")]
    parts += [_take(t, take, urls) for take in t["takes"]]
    return "".join(parts)


def _take(t: dict, take: dict, urls) -> str:
    pick = t["pick"]
    picked = pick is not None and pick["take"] == take["take"]
    badge = f' <span class="badge">picked ({esc(pick["how"])})</span>' if picked else ""
    reasons = [f'<li class="reject">{esc(r)}</li>' for r in take["rejects"]]
    reasons += [f'<li class="warning">{esc(w)}</li>' for w in take["warnings"]]
    if not take["scored"]:
        reasons = ['<li class="unscored">not scored yet</li>']
    elif not reasons:
        reasons = ['<li class="ok">ok</li>']
    score = f"score {take['score']:+.2f}" if take["score"] is not None else "score -"
    unit = f"{t['id']}/take-{take['take']}"
    keep = ""
    if urls.live:
        keep = (f'<button type="button" data-action="keep" data-take="{take["take"]}">keep this take</button>')
    inner = (f'<h2>take {take["take"]}{badge}</h2>'
             f'<img class="pic take-pic" src="{esc(urls.picture("take", unit, take["sha256"]))}" '
             f'alt="waveform and spectrogram of take {take["take"]}" width="800" height="206">'
             f'<div class="take-side"><audio class="take-audio" controls preload="none" '
             f'src="{esc(urls.file(take["wav"]))}"></audio>'
             f'<p class="score">{score}</p><ul class="reasons">{"".join(reasons)}</ul>'
             f'<div class="actions" data-track="{esc(t["id"])}">{keep}</div></div>')
    return block(f"{t['id']}-take-{take['take']}", [take, picked, pick], inner, tag="article",
                 cls="take picked" if picked else "take")


def progress_html(p: dict) -> str:
    state = (f'<p class="running">build running (pid {p["build_pid"]}): actions wait until it finishes</p>'
             if p["build_pid"] else '<p class="idle">no build running</p>')
    summary = "".join(f"<li>{esc(s)}</li>" for s in p["summary"])
    events = "".join(f"<li>{esc(e)}</li>" for e in p["events"])
    return (f"{state}<ul class=\"summary\">{summary}</ul>"
            f"<details><summary>latest events</summary><ol class=\"events\">{events}</ol></details>")


def export_document(album: dict, tracks: list[dict], urls) -> str:
    main = [f'<div id="album">{album_main(album, urls)}</div>']
    for t in tracks:
        nav = f'<p class="nav"><a href="{esc(urls.album())}">album</a></p>'
        main.append(f'<div class="track-view" id="{esc(t["id"])}">{track_main(t, urls, nav)}</div>')
    return document(album["title"], "export", "".join(main), "", urls)
