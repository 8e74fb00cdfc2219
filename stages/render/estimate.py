"""What a dry run says about the render: takes, minutes of audio, the retry worst case, and a
rough time from a table (not a measurement of this machine)."""
from __future__ import annotations

from albumgen.models.backend import backend
from albumgen.sizes import counted
from albumgen.stage import Context

from .config import RenderConfig

# Audio seconds rendered per wall-clock second at a typical batch (auto batch size), by
# model size and device class. Rough figures to size a run (an hour or a night?), not a
# promise: a GPU's generation and the batch size it allows move them several-fold.
RATE = {
    "cuda": {"tiny": 200.0, "small": 40.0, "medium": 12.0, "large": 5.0},
    "mps": {"tiny": 60.0, "small": 3.0, "medium": 1.0, "large": 0.4},
    "cpu": {"tiny": 30.0, "small": 0.5, "medium": 0.15, "large": 0.05},
}


def model_size(model: str) -> str | None:
    name = model.lower().rstrip("/").rsplit("/", 1)[-1]
    if name.startswith("tiny"):
        return "tiny"
    for size in ("large", "medium", "small"):
        if size in name:
            return size
    if "melody" in name:  # facebook/musicgen-melody is a medium-sized model
        return "medium"
    return None


def device_class(device: str) -> str:
    if device != "auto":
        return device.split(":")[0]
    from albumgen.models.musicgen import pick_device

    return pick_device("auto")


def _hm(seconds: float) -> str:
    m = int(round(seconds / 60))
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else (f"{m} min" if m else "under a minute")


def describe(ctx: Context, cfg: RenderConfig, tracks: int, pending_takes: int | None = None) -> list[str]:
    """Lines for `build --dry-run`: the work, the retry worst case, and the estimate."""
    pick = getattr(ctx.config, "pick", None)
    rounds = getattr(pick, "max_rounds", 0) if pick is not None else 0
    retry = getattr(pick, "retry_takes", 0) if pick is not None else 0
    takes = tracks * cfg.takes
    worst = tracks * (cfg.takes + rounds * retry)
    minutes = takes * cfg.seconds / 60
    lines = [f"render: {counted(tracks, 'track')} x {counted(cfg.takes, 'take')} = {counted(takes, 'take')} of "
             f"{cfg.seconds:g} s ({minutes:.1f} min of audio)"
             + (f", {pending_takes} still to render" if pending_takes is not None and pending_takes != takes else "")]
    if rounds and retry:
        lines.append(f"render: worst case {counted(worst, 'take')} ({worst * cfg.seconds / 60:.1f} min of audio): a "
                     f"track whose takes all fail the picker gets {retry} more, up to {counted(rounds, 'time')} "
                     "(pick.retry_takes, pick.max_rounds)")
    else:
        lines.append("render: no retry rounds (pick.max_rounds is 0): a track whose takes all fail keeps its best")
    device = device_class(cfg.device)
    size = model_size(cfg.model)
    rate = RATE.get(device, {}).get(size) if size else None
    if rate and not backend(cfg.backend).songs:  # the table is MusicGen's steps per second
        audio = (pending_takes if pending_takes is not None else takes) * cfg.seconds
        lines.append(f"render: estimate {_hm(audio / rate)} on {device} for {cfg.model} ({_hm(worst * cfg.seconds / rate)} "
                     "in the worst case); a rough figure from a table, not a measurement of this machine")
    else:
        lines.append(f"render: no time estimate for {cfg.model} on {device}")
    return lines
