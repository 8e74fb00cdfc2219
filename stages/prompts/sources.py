"""Where prompts come from (builtin, inline, file, llm) and how they become a tracklist.

LLM replies are stored under manifest/prompts/ as files named by a hash of the request
*without* album.tracks. A resume never gets here (the tracklist unit is skipped), and a
changed album.tracks re-runs the unit but reuses the stored reply whenever enough of its
candidates survive cleaning, so the LLM is only asked again when the album outgrew it.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from albumgen.engine.store import atomic
from albumgen.engine.store.hashing import derive_seed, sha256_json
from albumgen.errors import InputError, StageError
from albumgen.inputs import MB, read_optional_text
from albumgen.sizes import counted
from albumgen.stage import Context

from .builtin import compose, name_tracks, title_each
from .clean import clean_candidates, clean_lyrics, clean_one, clean_title, dedupe_key, drop_reason
from .config import InlineTrack, PromptsConfig
from .llm import (
    LLM,
    LYRICS_SCHEMA,
    NAMES_SCHEMA,
    REWRITE_SCHEMA,
    SONGS_SYSTEM,
    SYSTEM,
    TRACKLIST_SCHEMA,
    UnusableReplies,
    usage_total,
)
from .parse import Candidate, Parsed, parse_file, parse_text

MAX_STORED_BYTES = 64 * MB  # replies are capped at llm.MAX_REPLY_BYTES each, a few per file


def gather(ctx: Context, cfg: PromptsConfig) -> tuple[dict, list[Path]]:
    """The tracklist, and the stored LLM replies it was made from (outputs of the unit)."""
    album = ctx.config.album
    extra: list[Path] = []
    if cfg.source == "builtin":
        # A few spare prompts, so near-duplicates dropped by cleaning still leave enough.
        title, titles, prompts = compose(album.brief, album.genre, album.tracks + max(2, album.tracks // 2), album.seed)
        parsed = Parsed([Candidate(p, t) for p, t in zip(prompts, titles)], title)
        where = "the builtin composer"
    elif cfg.source == "inline":
        parsed = Parsed([inline_candidate(item) for item in cfg.inline])
        where = "prompts.inline"
    elif cfg.source == "file":
        parsed = parse_file(cfg.resolve_file(ctx.base_dir), f"prompts.file: {cfg.file}")
        where = f"prompts.file ({cfg.file})"
    else:
        parsed, path = llm_candidates(ctx, cfg)
        extra.append(path)
        where = f"the LLM reply (stored in {path.relative_to(ctx.album_dir).as_posix()})"
    kept = select(parsed, cfg, album.tracks, where, sings(ctx))
    album_title = album.title or clean_title(parsed.album_title)
    # Names come from the prompts as the source wrote them, before any rewrite.
    if not album_title or any(not c.title for c in kept):
        kept, named, path = name_untitled(ctx, cfg, kept)
        album_title = album_title or named
        extra += [path] if path else []
    if cfg.rewrite:
        kept, path = rewrite(ctx, cfg, kept)
        extra.append(path)
    if sings(ctx) and any(not c.lyrics for c in kept):
        if cfg.uses_llm:
            kept, path = write_lyrics(ctx, cfg, kept, album_title)
            extra.append(path)
        else:  # the builtin composer and lyric-less files stay instrumental: no words are made up offline
            bare = sum(not c.lyrics for c in kept)
            ctx.log.info("prompts: %s no lyrics and no LLM is configured to write them; %s instrumental",
                         counted(bare, "track has", "tracks have"), "it stays" if bare == 1 else "they stay")
    return tracklist(album_title, kept), extra


def sings(ctx: Context) -> bool:
    """album.vocals: lyrics. Prompts keep their voices and tracks get lyrics."""
    return ctx.config.album.vocals == "lyrics"


def inline_candidate(item: str | InlineTrack) -> Candidate:
    if isinstance(item, InlineTrack):
        return Candidate(item.prompt, item.title, item.melody, item.lyrics)
    # A string may be a whole "Title: prompt" line, as people paste them.
    found = parse_text(item).candidates
    return found[0] if len(found) == 1 else Candidate(item)


def select(parsed: Parsed, cfg: PromptsConfig, tracks: int, where: str, vocals: bool = False) -> list[Candidate]:
    """Exactly `tracks` cleaned candidates, or an error saying how many survived and why: an
    InputError for a prompts file (the file is what to fix, as when it is empty), a StageError
    for the other sources."""
    cleaned = clean_candidates(parsed.candidates, cfg.max_chars, limit=tracks, vocals=vocals,
                               max_lyrics=cfg.max_lyrics_chars)
    if len(cleaned.kept) < tracks:
        fix = {"llm": "raise prompts.llm.candidates or lower album.tracks",
               "file": f"add prompts to {cfg.file} or lower album.tracks",
               "inline": "add prompts to prompts.inline or lower album.tracks"}.get(cfg.source, "lower album.tracks")
        error = InputError if cfg.source == "file" else StageError
        raise error(f"only {len(cleaned.kept)} of {len(parsed.candidates)} prompts from {where} survived "
                         f"cleaning but album.tracks is {tracks} (dropped: {cleaned.why()})", fix)
    return cleaned.kept[:tracks]


def tracklist(album_title: str, kept: list[Candidate]) -> dict:
    titles: list[str] = []
    for cand in kept:
        title = cand.title or "Untitled"
        n = 2
        base = title
        while title.casefold() in (t.casefold() for t in titles):  # two tracks, one name: confusing in a player
            title, n = f"{base} ({n})", n + 1
        titles.append(title)
    # melody only where a source gave one: tracklists without melodies stay as they were
    return {"album_title": album_title,
            "tracks": [{"id": f"t{i:02d}", "n": i, "title": t, "prompt": c.prompt,
                        **({"melody": c.melody} if c.melody else {}), **({"lyrics": c.lyrics} if c.lyrics else {})}
                       for i, (t, c) in enumerate(zip(titles, kept), start=1)]}


def name_untitled(ctx: Context, cfg: PromptsConfig, kept: list[Candidate]) -> tuple[list[Candidate], str, Path | None]:
    """Titles for the tracks a source left untitled, and an album title, as a person would name
    them: by the LLM when one is configured (one call, stored like every reply), else by the
    composer's title generator. Titles the source gave are kept and their words not reused."""
    given = {w for c in kept if c.title for w in c.title.split()}
    untitled = [c.prompt for c in kept if not c.title]
    seed = ctx.config.album.seed
    album_title, titles, path = "", [], None
    if cfg.uses_llm:
        try:
            album_title, titles, path = llm_names(ctx, cfg, untitled, given)
        except UnusableReplies as e:
            # Names are the one thing the offline generator can always give: an album is
            # not lost over a model that cannot answer the naming request in a usable form.
            ctx.log.warning("prompts: %s; naming the tracks offline instead", e.what)
    if not album_title:  # no LLM, or every track was titled so the LLM named no album
        album_title, _ = name_tracks(0, derive_seed("album-title", seed), taken=given)
    if not titles:
        titles = title_each(untitled, seed, given | set(album_title.split()))
    named = iter(titles)
    return [c if c.title else replace(c, title=next(named)) for c in kept], album_title, path


# -- the LLM -------------------------------------------------------------------------------
def llm_candidates(ctx: Context, cfg: PromptsConfig) -> tuple[Parsed, Path]:
    album = ctx.config.album
    request = {**cfg.llm.request_fields(album.seed), "candidates": cfg.llm.candidates,
               "brief": album.brief, "genre": album.genre, "title": album.title}
    vocals = sings(ctx)
    if vocals:  # only then: instrumental albums keep their stored replies
        request["vocals"] = album.vocals
    path = ctx.work_dir("prompts") / f"llm-{sha256_json(request)[:16]}.json"
    stored = _load(path)
    if stored is not None:
        parsed = Parsed([Candidate(c["prompt"], c.get("title")) for c in stored.get("candidates", [])],
                        stored.get("album_title"))
        if len(clean_candidates(parsed.candidates, cfg.max_chars, limit=album.tracks, vocals=vocals).kept) >= album.tracks:
            ctx.log.info("prompts: reusing the stored LLM reply %s (no LLM call)", path.name)
            return parsed, path
    count = cfg.llm.candidate_count(album.tracks)
    llm = LLM(cfg.llm, album.seed, ctx.log)
    ctx.log.info("prompts: asking %s for %s for %s", llm.where, counted(count, "candidate"), counted(album.tracks, "track"))

    def accept(content: str) -> tuple[Parsed | None, bool]:
        parsed = parse_text(content)
        if not parsed.candidates:
            return None, False
        return parsed, len(clean_candidates(parsed.candidates, cfg.max_chars, limit=album.tracks,
                                            vocals=vocals).kept) >= album.tracks

    parsed, replies = llm.ask(candidates_message(album.brief, album.genre, album.title, count, vocals),
                              "tracklist", TRACKLIST_SCHEMA, accept, SONGS_SYSTEM if vocals else SYSTEM)
    _store(path, {"kind": "candidates", "request": request, "count": count, "replies": replies,
                  "usage": usage_total(replies), "album_title": parsed.album_title,
                  "candidates": [{"title": c.title, "prompt": c.prompt} for c in parsed.candidates]})
    ctx.log.info("prompts: %s in %s, %s", counted(len(parsed.candidates), "candidate"),
                 counted(len(replies), "reply", "replies"), counted(usage_total(replies)["total_tokens"], "token"))
    return parsed, path


def candidates_message(brief: str, genre: str, title: str | None, count: int, vocals: bool = False) -> str:
    name = f"The album is called {title!r}; still return it as album_title." if title else "Name the album too."
    kind, voice = ("song", " Name the kind of voice that sings; the lyrics come later.") if vocals else \
        ("MusicGen", " No vocals, no lyrics.")
    return (f"Album brief: {brief or 'an album of ' + genre}\nGenre: {genre}\n\n"
            f"Write {count} distinct tracks for this album, each with a short evocative title and one {kind} "
            f"prompt of one or two sentences, under 250 characters. Vary instruments, mood, tempo and structure "
            f"across the album.{voice} {name}\n"
            'Reply with JSON only: {"album_title": "...", "tracks": [{"title": "...", "prompt": "..."}]}')


def llm_names(ctx: Context, cfg: PromptsConfig, prompts: list[str], taken: set[str]) -> tuple[str, list[str], Path]:
    """Names for `prompts` and the album from one LLM call, stored so a resume never pays twice.
    Names stored for the same prompts by earlier calls are reused, so editing one prompt asks
    (and renames) only that one. The album title is "" when no reply named one."""
    album = ctx.config.album
    known: dict[str, str] = {}
    album_title = None
    for old in sorted(ctx.work_dir("prompts").glob("names-*.json"), key=lambda p: p.stat().st_mtime):
        stored = _load(old) or {}
        if isinstance(stored.get("names"), dict):
            known.update({k: v for k, v in stored["names"].items() if isinstance(v, str) and v})
            album_title = stored.get("album_title") or album_title
    # The file for this exact set of prompts holds every name they need; it is what the
    # tracklist record claims. Older files (for an earlier set) are read above and then
    # pruned by the runner once the new record commits.
    request = {**cfg.llm.request_fields(album.seed), "names_for": prompts, "brief": album.brief, "genre": album.genre}
    path = ctx.work_dir("prompts") / f"names-{sha256_json(request)[:16]}.json"
    missing = [p for p in dict.fromkeys(prompts) if p not in known]
    replies: list[dict] = []
    if missing:
        llm = LLM(cfg.llm, album.seed, ctx.log)
        avoid = taken | {w for t in known.values() for w in t.split()}

        def accept(content: str) -> tuple[tuple[str, list[str]] | None, bool]:
            parsed = parse_text(content)
            titles = [clean_title(c.title or c.prompt, 60) for c in parsed.candidates]
            ok = len(titles) == len(missing) and all(titles)
            return ((clean_title(parsed.album_title) or "", titles) if ok else None), ok

        (named_album, titles), replies = llm.ask(names_message(album.brief, album.genre, missing, avoid), "names",
                                                 NAMES_SCHEMA, accept)
        album_title = album_title or named_album
        known.update(zip(missing, titles))
    else:
        ctx.log.info("prompts: every track already has a stored name (no LLM call)")
    if missing or not path.exists():
        _store(path, {"kind": "names", "request": request, "replies": replies, "usage": usage_total(replies),
                      "album_title": album_title, "names": {p: known[p] for p in prompts}})
    return album_title or "", [known[p] for p in prompts], path


def names_message(brief: str, genre: str, prompts: list[str], avoid: set[str]) -> str:
    taken = f" Do not use these words, other tracks have them: {', '.join(sorted(avoid))}." if avoid else ""
    return (f"Album brief: {brief or 'an album of ' + genre}\nGenre: {genre}\n\n"
            f"Name this album and each of these {len(prompts)} instrumental tracks, in order. Titles are short "
            "(one to four words) and evocative, as an artist would name them, not a summary of the prompt; "
            f"use no word twice across the album.{taken}\n"
            'Reply with JSON only: {"album_title": "...", "titles": ["...", "..."]}\n\n'
            + json.dumps(prompts, ensure_ascii=False, indent=1))


def rewrite(ctx: Context, cfg: PromptsConfig, kept: list[Candidate]) -> tuple[list[Candidate], Path]:
    """One LLM pass turning each prompt into a MusicGen-style description. A rewritten prompt
    that cleaning would drop, or that collides with another, keeps its original wording."""
    album = ctx.config.album
    originals = [c.prompt for c in kept]
    request = {**cfg.llm.request_fields(album.seed), "prompts": originals}
    path = ctx.work_dir("prompts") / f"rewrite-{sha256_json(request)[:16]}.json"
    stored = _load(path)
    if stored is not None and len(stored.get("prompts", [])) == len(originals):
        ctx.log.info("prompts: reusing the stored rewrite %s (no LLM call)", path.name)
        rewritten = stored["prompts"]
    else:
        llm = LLM(cfg.llm, album.seed, ctx.log)

        def accept(content: str) -> tuple[list[str] | None, bool]:
            found = [c.prompt for c in parse_text(content).candidates]
            ok = len(found) == len(originals)
            return (found if ok else None), ok

        rewritten, replies = llm.ask(rewrite_message(originals), "rewrite", REWRITE_SCHEMA, accept)
        _store(path, {"kind": "rewrite", "request": request, "replies": replies, "usage": usage_total(replies),
                      "prompts": rewritten})
    out, keys = [], set()
    for cand, new in zip(kept, rewritten):
        prompt = clean_one(new, cfg.max_chars, sings(ctx))
        if drop_reason(prompt, sings(ctx)) or dedupe_key(prompt) in keys:
            prompt = cand.prompt
        keys.add(dedupe_key(prompt))
        out.append(replace(cand, prompt=prompt))  # title and melody stay
    return out, path


def write_lyrics(ctx: Context, cfg: PromptsConfig, kept: list[Candidate], album_title: str
                 ) -> tuple[list[Candidate], Path]:
    """One LLM call writing lyrics, in album.language, for every track that has none, stored
    like every reply so a resume never pays twice. A track whose lyric cleaning leaves nothing
    (a refusal, only chatter) stays instrumental, and the log says so."""
    album = ctx.config.album
    wanted = [c for c in kept if not c.lyrics]
    songs = [{"title": c.title or "", "prompt": c.prompt} for c in wanted]
    request = {**cfg.llm.request_fields(album.seed), "lyrics_for": songs, "language": album.language,
               "album_title": album_title, "brief": album.brief}
    path = ctx.work_dir("prompts") / f"lyrics-{sha256_json(request)[:16]}.json"
    stored = _load(path)
    if stored is not None and isinstance(stored.get("lyrics"), list) and len(stored["lyrics"]) == len(wanted):
        ctx.log.info("prompts: reusing the stored lyrics %s (no LLM call)", path.name)
        written = [str(x) for x in stored["lyrics"]]
    else:
        llm = LLM(cfg.llm, album.seed, ctx.log)

        def accept(content: str) -> tuple[list[str] | None, bool]:
            found = lyrics_in(content)
            ok = len(found) == len(wanted) and all(clean_lyrics(x, cfg.max_lyrics_chars) for x in found)
            return (found if len(found) == len(wanted) else None), ok

        written, replies = llm.ask(lyrics_message(album_title, album.language, songs), "lyrics", LYRICS_SCHEMA,
                                   accept, SONGS_SYSTEM)
        written = written or [""] * len(wanted)
        _store(path, {"kind": "lyrics", "request": request, "replies": replies, "usage": usage_total(replies),
                      "lyrics": written})
    by_cand = {id(c): clean_lyrics(x, cfg.max_lyrics_chars) or None for c, x in zip(wanted, written)}
    silent = [c.title or c.prompt[:30] for c in wanted if not by_cand[id(c)]]
    if silent:
        ctx.log.warning("prompts: no usable lyrics for %s; instrumental", ", ".join(silent))
    return [replace(c, lyrics=by_cand[id(c)]) if id(c) in by_cand else c for c in kept], path


def lyrics_in(content: str) -> list[str]:
    """The lyrics of a reply: {"lyrics": [...]} as asked, or a bare list of strings."""
    try:
        data = json.loads(content.strip().removeprefix("```json").removeprefix("```").removesuffix("```"))
    except ValueError:
        return []
    if isinstance(data, dict):
        data = data.get("lyrics", [])
    return [x for x in data if isinstance(x, str)] if isinstance(data, list) else []


def lyrics_message(album_title: str, language: str, songs: list[dict]) -> str:
    return (f"Write the lyrics of each of these {len(songs)} songs of the album {album_title!r}, in the language "
            f"with the code {language!r}, in order. Mark every section with a tag on its own line: [verse], "
            "[chorus], [bridge] (and [intro], [outro] if wanted). A verse has four to eight short lines; the "
            "chorus repeats. Lyrics only: no titles, no notes, no numbering.\n"
            'Reply with JSON only: {"lyrics": ["[verse]\\n...", "..."]}\n\n' + json.dumps(songs, ensure_ascii=False, indent=1))


def rewrite_message(prompts: list[str]) -> str:
    return (f"Rewrite each of these {len(prompts)} prompts as a MusicGen description naming genre, instruments, "
            "mood and tempo in bpm, keeping each prompt's intent. No vocals, no lyrics. Keep the order and "
            f"return exactly {len(prompts)} prompts.\n"
            'Reply with JSON only: {"prompts": ["...", "..."]}\n\n' + json.dumps(prompts, ensure_ascii=False, indent=1))


def _load(path: Path) -> dict | None:
    """A stored reply, or None when there is none. Our writes are atomic, so a broken one
    was edited by hand: say so rather than pay for a new call that overwrites the edit."""
    rel = str(path)
    fix = "fix it, or delete it to ask the LLM again"
    text = read_optional_text(path, rel, max_bytes=MAX_STORED_BYTES, fix=fix)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise InputError(f"{rel} is not valid JSON ({' '.join(str(e).split())[:80]})", fix) from None
    if not isinstance(data, dict):
        raise InputError(f"{rel} must hold a JSON object", fix)
    cands = data.get("candidates", [])
    if not (isinstance(cands, list) and all(isinstance(c, dict) and isinstance(c.get("prompt"), str)
                                            and isinstance(c.get("title"), (str, type(None))) for c in cands)):
        raise InputError(f"{rel}: candidates must be a list of {{\"title\": ..., \"prompt\": \"...\"}}", fix)
    prompts = data.get("prompts", [])
    if not (isinstance(prompts, list) and all(isinstance(p, str) for p in prompts)):
        raise InputError(f"{rel}: prompts must be a list of strings", fix)
    if not isinstance(data.get("album_title"), (str, type(None))):
        raise InputError(f"{rel}: album_title must be a string or null", fix)
    return data


def _store(path: Path, data: dict) -> None:
    # Written (atomically) before the tracklist record commits: a crash in between still
    # keeps the paid-for reply, and the next build reuses it.
    atomic.write_json(path, data)
