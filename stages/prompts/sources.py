"""Where prompts come from: builtin, inline, file (llm arrives with its own module)."""
from __future__ import annotations

from albumgen.errors import StageError
from albumgen.stage import Context

from .builtin import compose
from .clean import clean_prompts, parse_text


def gather(ctx: Context) -> dict:
    cfg = ctx.stage_config("prompts")
    album = ctx.config.album
    if cfg.source == "builtin":
        title, titles, prompts = compose(album.brief, album.genre, album.tracks, album.seed)
        raw = prompts
    elif cfg.source == "inline":
        raw, title, titles = list(cfg.inline), None, None
    elif cfg.source == "file":
        path = cfg.resolve_file(ctx.base_dir)
        raw, title, titles = parse_text(path.read_text("utf-8", errors="replace")), None, None
    else:
        raise StageError("prompts.source 'llm' is not available in this build", "use builtin, inline or file")
    prompts = clean_prompts(raw, max_chars=cfg.max_chars)
    if len(prompts) < album.tracks:
        raise StageError(f"only {len(prompts)} usable prompts for album.tracks = {album.tracks}",
                         f"add prompts to the {cfg.source} source or lower album.tracks")
    prompts = prompts[: album.tracks]
    titles = titles or [title_from_prompt(p) for p in prompts]
    return {
        "album_title": album.title or title or "Untitled Album",
        "tracks": [{"id": f"t{i:02d}", "n": i, "title": t, "prompt": p}
                   for i, (t, p) in enumerate(zip(titles, prompts), start=1)],
    }


def title_from_prompt(prompt: str, words: int = 4) -> str:
    stop = {"a", "an", "the", "with", "and", "of", "in", "on", "at", "for", "to", "track", "song", "music"}
    picked = [w.strip(",.;:!?()\"'") for w in prompt.split()]
    picked = [w for w in picked if w and w.lower() not in stop][:words]
    return " ".join(w.capitalize() for w in picked) or "Untitled"
