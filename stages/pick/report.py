"""What pick tells a person about a track (Stage.report) and the choices a person makes
through it (Stage.choose): the review page reaches both through the stage contract, never
pick's files. Kept apart from the stage's scoring so the two change independently."""
from __future__ import annotations

from albumgen.engine.store.recovery import read_body
from albumgen.errors import InputError
from albumgen.stage import Context, TakeVerdict, TrackReport

from . import manual, overrides


def track_report(ctx: Context, tid: str) -> TrackReport:
    """The track's verdicts from its pick report (none before pick has seen it) and the
    choices in the overrides file. A malformed overrides file is the next build's to report
    (exit 3, with the fix); here it reads as no choice, so the page still opens."""
    try:
        body = read_body(ctx.work_dir("pick") / f"{tid}.json")
    except (OSError, ValueError):
        body = {}
    takes = {s["take"]: TakeVerdict(take=s["take"], score=s.get("score"), rejects=list(s.get("rejects", [])),
                                    warnings=list(s.get("warnings", [])))
             for s in body.get("takes", [])}
    try:
        chosen = overrides.load(ctx.album_dir).get(tid)
        more = overrides.load_more(ctx.album_dir).get(tid, 0)
    except InputError:
        chosen, more = None, 0
    return TrackReport(takes=takes, skipped=dict(body.get("skipped", {})), chosen=chosen, more_asked=more)


def choose(ctx: Context, tid: str, action: str, value: int | None) -> str:
    if action == "keep":
        t, take = manual.set_choice(ctx, tid, value)
        return f"Track {t['n']} will use take {take} (manual): the next build masters it"
    if action == "auto":
        t, _ = manual.set_choice(ctx, tid, None)
        return f"Track {t['n']} will use the automatic pick from the next build"
    if action == "more":
        t, total = manual.request_takes(ctx, tid, value)
        return (f"Track {t['n']} will get {value} more take{'s' * (value != 1)} at the next build "
                f"({total} asked in all)")
    raise InputError(f"unknown choice {action!r}", "use keep, auto or more")
