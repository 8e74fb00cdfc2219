"""Takes longer than the model's window, by continuation (AudioCraft's `extend_stride`).

MusicGen was trained on 30 s; past that its positions are untrained. So the first window is
generated as usual, and each next one is prompted with the last (window - stride) seconds
of tokens: the model continues its own music, and the new frames are appended. The tokens
are one continuous sequence and are decoded to audio in one pass, so a join has no gap and
no click: there is no seam in the audio, only in which window chose the tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .fast import delays
from .sampling import Sampling


@dataclass
class Windows:
    max_frames: int  # the most frames one window holds (30 s = 1500 at 50 Hz)
    stride_frames: int  # new frames each continuation window adds

    @property
    def prompt_frames(self) -> int:
        return self.max_frames - self.stride_frames

    def plan(self, frames: int) -> list[tuple[int, int]]:
        """(start frame, window length) for each window; windows after the first overlap the
        previous output by prompt_frames."""
        spans = [(0, min(frames, self.max_frames))]
        done = spans[0][1]
        while done < frames:
            start = done - self.prompt_frames
            spans.append((start, min(self.max_frames, frames - start)))
            done = start + spans[-1][1]
        return spans

    def steps(self, frames: int, delay: int) -> int:
        """Decoding steps for a take of `frames` (for progress and ETA)."""
        return sum(n + delay - (self.prompt_frames if i else 0) for i, (_, n) in enumerate(self.plan(frames)))


def generate_long(loop, prompts: list[str], seeds: list[int], frames: int, sampling: Sampling, windows: Windows,
                  on_step=None, rows: int | None = None, intro: torch.Tensor | None = None,
                  melodies: list | None = None) -> torch.Tensor:
    """Tokens (batch, codebooks, frames) for any length, one window after another; rows as in
    FastLoop.generate. `intro` (1, codebooks, n): tokens every take starts with and continues
    (render.intro). `melodies`: one melody waveform (or None) per take, for melody models."""
    codes = None
    done_steps = 0
    delay = max(delays(loop.lm.num_codebooks, loop.lm.channels))
    for i, (start, n) in enumerate(windows.plan(frames)):
        prompt = codes[..., start:] if i else None if intro is None else intro.expand(len(prompts), -1, -1)

        def progress(step, steps, base=done_steps):
            if on_step is not None:
                on_step(base + step)

        extra = {} if melodies is None else {"melodies": melodies}  # only melody-capable loops take them
        new = loop.generate(prompts, seeds, n, sampling, prompt_codes=prompt, frame_offset=start, on_step=progress,
                            rows=rows, **extra)
        done_steps += n + delay - (0 if prompt is None else prompt.shape[-1])
        codes = new if codes is None else torch.cat([codes, new[..., codes.shape[-1] - start:]], dim=-1)
    return codes
