"""HTML for the review page and its exports, through Jinja2 templates (templates/) with
autoescape on: every value from the album (titles and prompts an LLM wrote, reasons, file
names) is escaped unless a template marks it safe, so a title like
`<img src=x onerror=alert(1)>` shows as characters and no call can be forgotten. The only
values passed through unescaped are this module's own rendered templates (a view's main
part inside the page).

Blocks (children of <main>) carry a data-key that changes when their content does, so the
live page swaps only what changed and a playing take keeps playing."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..engine.store.hashing import sha256_json
from . import pictures

TAKE_SIZE = (pictures.WIDTH, pictures.TAKE_H)
LOUD_SIZE = (pictures.WIDTH, pictures.LOUD_H)


def _clock(seconds: object) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _db(value: object, unit: str) -> str:
    return f"{value:.1f} {unit}" if isinstance(value, (int, float)) else "-"


@lru_cache(maxsize=1)
def env() -> Environment:
    e = Environment(loader=PackageLoader("albumgen.review", "templates"), autoescape=True,
                    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    e.filters.update(clock=_clock, db=_db)
    return e


def render(name: str, **values) -> Markup:
    """A template rendered, as markup that a template including it does not escape again."""
    return Markup(env().get_template(name).render(**values))


def key(parts: object) -> str:
    return sha256_json(parts)[:16]


def asset(name: str) -> str:
    return resources.files("albumgen.review").joinpath(name).read_text("utf-8")


def document(title: str, view: str, main: Markup, progress: Markup | str, urls, version: str = "") -> str:
    values = {"title": title, "view": view, "main": main, "progress": progress, "urls": urls,
              "version": version, "live": urls.live}
    if not urls.live:  # one file: inline style and the play-all script, no actions, no polling
        values.update(css=Markup(asset("review.css")), play_js=Markup(asset("play.js")))
    return str(render("page.html", **values))


def pick_words(pick: dict | None) -> str:
    return f"take {pick['take']} ({pick['how']})" if pick else "not picked yet"


def album_main(album: dict, urls, build_command: str = "") -> Markup:
    mastered = sum(1 for t in album["tracks"] if t["master"])
    pending = [{"id": t["id"], "n": t["n"], "title": t["title"], "what": "; ".join(t["pending"])}
               for t in album["tracks"] if t["pending"]]
    tracks = [{**t, "key": key(t)} for t in album["tracks"]]
    return render("album.html", album={**album, "tracks": tracks}, mastered=mastered, urls=urls, live=urls.live,
                  pending=pending, build_command=build_command, loud_size=LOUD_SIZE,
                  album_key=key([album["title"], album["artist"], album["cover"], mastered]),
                  pending_key=key([pending, build_command]))


def track_notes(t: dict) -> list[str]:
    """What waits for the next build, in words (also the album view's pending list)."""
    return list(t.get("pending", []))


def track_main(t: dict, urls, nav: Markup | str = "", build_command: str = "", hints: bool = True) -> Markup:
    pick = t["pick"]
    notes = track_notes(t)
    if pick is None and t.get("override") is None:
        notes.append("the picker has not seen this track yet")
    takes = []
    for take in t["takes"]:
        picked = pick is not None and pick["take"] == take["take"]
        kept = t.get("override") == take["take"]
        takes.append({**take, "picked": picked, "kept": kept, "key": key([take, picked, pick])})
    skipped = sorted(t.get("skipped", {}).items()) if hints else []
    return render("track.html", t={**t, "takes": takes}, urls=urls, live=urls.live, nav=nav, notes=notes,
                  build_command=build_command if t.get("pending") else "", hints=skipped,
                  take_size=TAKE_SIZE,
                  head_key=key([t["title"], t["prompt"], t.get("lyrics"), pick, notes, build_command]),
                  table_key=key([[(x["take"], x["score"], x["rejects"], x["warnings"], x["picked"], x["kept"],
                                   x["seconds"]) for x in takes], urls.live]),
                  hints_key=key(skipped))


def progress_html(p: dict) -> Markup:
    return render("progress.html", **p)


def nav_html(urls, label: str = "&larr; album") -> Markup:
    return Markup('<p class="nav"><a href="{}">{}</a></p>').format(urls.album(), Markup(label))


def export_document(album: dict, tracks: list[dict], urls, build_command: str = "") -> str:
    """Every view on one page; no actions, no install hints (they are about the machine the
    album was built on, not for whoever it is sent to)."""
    views = [{"id": t["id"], "main": track_main(t, urls, nav_html(urls, "album"), build_command, hints=False)}
             for t in tracks]
    main = render("export.html", album_main=album_main(album, urls, build_command), tracks=views)
    return document(album["title"], "export", main, "", urls)
