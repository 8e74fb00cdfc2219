"""Typed artifacts: what stages hand each other through the manifest (docs/architecture.md).

A stage declares the artifact types it `needs` and `makes`; the engine orders stages and
gates units by those declarations, and stages read each other's results as these models
through `ctx.artifacts`, never as `record.data[...]` and never by splitting unit ids by
hand. The models read the records' existing fields (extra fields are kept), so records
written before these types existed read the same.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from .engine.store.manifest import Manifest, Record


class Artifact(BaseModel):
    # extra="allow": a record carries more than the engine needs (scores, loudness...), and
    # stages may add fields without touching the engine.
    model_config = ConfigDict(extra="allow", frozen=True)
    kind: ClassVar[str]


class Track(BaseModel):
    """A track of the tracklist. A track may also carry `melody` (a melody file from the
    prompt source, relative to the pipeline file; read it with track_melody) and `lyrics`
    (track_lyrics), as extras of the records. Stages key their units on the fields they use
    (render on the prompt, master on the fields a tag shows), so a field added here re-runs
    no unit."""

    model_config = ConfigDict(extra="allow", frozen=True)
    id: str  # "t03": stable, names the track's units in every stage
    n: int  # 1-based position in the album
    title: str
    prompt: str


def track_melody(track: Track) -> str | None:
    """The melody file a track's prompt source gave it, or None."""
    return (track.model_extra or {}).get("melody")


def track_lyrics(track: Track) -> str | None:
    """The lyrics of a track (album.vocals: lyrics, or a lyrics column in the prompt source),
    or None: an extra like melody, so tracklists without lyrics stay as they were."""
    return (track.model_extra or {}).get("lyrics") or None


class Tracklist(Artifact):
    kind = "tracklist"
    album_title: str
    tracks: list[Track]


class Take(Artifact):
    kind = "take"
    track: str
    take: int  # 1-based within the track
    seed: int
    prompt: str
    wav: str = ""  # album-relative path of the audio (decoded again by the decode stage, if it did)
    wav_sha256: str = ""
    codes: str = ""  # album-relative path of the saved tokens
    codes_sha256: str = ""
    joins: list[float] = []  # seconds where render's continuation windows meet (pick seeks seams there)
    latents: str = ""  # album-relative path of the saved latents (backends that keep latents: a repaint starts there)
    # How the take was made, as later stages read it (records from before these were
    # typed carry them as extras under the same names, so they parse the same).
    model: str | None = None  # render.model: a hub id, a folder or a tiny preset
    revision: str | None = None  # the checkpoint's revision (hub commit, folder hash, "random")
    # render.duration, seconds, as written (30 stays int: keys hash it as the record has it)
    duration: int | float | None = None
    sample_rate: int | None = None
    channels: int | None = None

    @property
    def id(self) -> str:
        return take_id(self.track, self.take)


class TakeAudio(Artifact):
    """A take's audio decoded again from its tokens (render.decoder: mbd). Readers of a Take
    get this audio as Take.wav when it exists."""

    kind = "take_audio"
    wav: str
    decoder: str


class Pick(Artifact):
    kind = "pick"
    track: str = ""
    choice: int  # the take number kept
    wav: str  # album-relative path of the chosen take's audio
    score: float | None = None
    all_rejected: bool = False
    manual: bool = False
    extra_takes: int = 0  # takes asked of render beyond render.takes (the feedback)
    more_takes: int = 0  # how many of those a person asked for (`albumgen pick --more`, review)
    retry_rounds: int = 0
    wants_takes: int = 0  # takes the track should have; more than rendered: render again
    repaints: list[dict] = []  # spans of kept takes to make again: {take, start, end, why, n}

    @property
    def take_id(self) -> str:
        return take_id(self.track, self.choice)


class Music(Artifact):
    """What the sequence stage heard in a track's chosen take."""

    kind = "music"
    track: str = ""
    key: str  # "A minor"
    camelot: str = ""  # "8A"
    bpm: float | None = None  # None: no steady beat
    energy: float = 0.0
    beats: list[float] = []  # seconds from the take's first sample
    asked_end: float | None = None  # render.duration: where the take was asked to end


class Order(Artifact):
    """The album's running order (album.order) and why each track sits where it does."""

    kind = "order"
    mode: str
    order: list[str]  # track ids in play order
    why: dict[str, str] = {}
    cost: dict[str, float] = {}


class Distinct(Artifact):
    """Near-duplicate tracks: the sequence stage's feedback to pick. `avoid` lists, per
    track, the takes pick should not choose again (it grows until the album is distinct)."""

    kind = "distinct"
    pairs: list[dict] = []  # every pair found so far: {"a", "b", "distance", "changed", "take"}
    open: list[dict] = []  # the pairs the current picks still make
    avoid: dict[str, list[int]] = {}


class Master(Artifact):
    kind = "master"
    id: str  # unit id: a track id, or "cover", "analysis", "album"


_TAKE_ID = re.compile(r"^(?P<track>[^/]+)/take-(?P<n>[1-9][0-9]*)$")


def take_id(track: str, n: int) -> str:
    """The unit id of a take: "t03/take-2"."""
    return f"{track}/take-{n}"


def parse_take_id(uid: str) -> tuple[str, int]:
    m = _TAKE_ID.match(uid)
    if m is None:
        raise ValueError(f"not a take id: {uid!r}")
    return m["track"], int(m["n"])


class Artifacts:
    """Typed reads of the manifest's records; `producers` maps an artifact kind to the
    name of the stage that makes it (from the stages' declarations)."""

    def __init__(self, manifest: Manifest, producers: dict[str, str], previews: dict[str, dict] | None = None):
        self.manifest = manifest
        self.producers = producers
        self.previews = previews or {}  # "stage/unit" -> a pending unit's data, over its record (Stage.preview)

    def _records(self, cls: type[Artifact]) -> list[Record]:
        return self.manifest.records(self.producers[cls.kind])

    def tracklist(self) -> Tracklist | None:
        stage = self.producers["tracklist"]
        if (preview := self.previews.get(f"{stage}/tracklist")) is not None:
            return Tracklist.model_validate(preview)
        rec = self.manifest.record(stage, "tracklist")
        return Tracklist.model_validate(rec.data) if rec else None

    def takes(self, track: str | None = None) -> list[Take]:
        # Every take, validated once per change of the records: plans and status ask per track.
        every = self.manifest.derived("takes", lambda: sorted(
            (self._audio(self.manifest.typed(r, _take)) for r in self._records(Take)), key=lambda t: (t.track, t.take)))
        return [t for t in every if track is None or t.track == track]

    def take(self, track: str, n: int) -> Take | None:
        rec = self.manifest.record(self.producers["take"], take_id(track, n))
        return self._audio(_take(rec)) if rec else None

    def _audio(self, take: Take) -> Take:
        """The take with its decoded-again audio, where a TakeAudio maker made some."""
        stage = self.producers.get(TakeAudio.kind)
        rec = self.manifest.record(stage, take.id) if stage else None
        wav = next((rel for rel in rec.outputs if rel.endswith(".wav")), "") if rec else ""
        if not wav:
            return take
        return take.model_copy(update={"wav": wav, "wav_sha256": rec.outputs[wav].sha256})

    def pick(self, track: str) -> Pick | None:
        rec = self.manifest.record(self.producers["pick"], track)
        return Pick.model_validate({"track": track, **rec.data}) if rec else None

    def picks(self) -> list[Pick]:
        return [Pick.model_validate({"track": r.unit, **r.data}) for r in self._records(Pick)]

    def music(self, track: str) -> Music | None:
        rec = self.manifest.record(self.producers["music"], track)
        return Music.model_validate({"track": track, **rec.data}) if rec else None

    def order(self) -> Order | None:
        rec = self.manifest.record(self.producers["order"], "order")
        return Order.model_validate(rec.data) if rec else None

    def distinct(self) -> Distinct | None:
        rec = self.manifest.record(self.producers["distinct"], "distinct")
        return Distinct.model_validate(rec.data) if rec else None

    def masters(self) -> list[Master]:
        return [Master.model_validate({**r.data, "id": r.unit}) for r in self._records(Master)]


def _take(rec: Record) -> Take:
    track, n = parse_take_id(rec.unit)
    wav = next((rel for rel in rec.outputs if rel.endswith(".wav")), "")
    codes = next((rel for rel in rec.outputs if rel.endswith(".codes")), "")
    latents = next((rel for rel in rec.outputs if rel.endswith(".latents")), "")
    return Take.model_validate({"seed": 0, "prompt": "", **rec.data, "track": track, "take": n, "wav": wav,
                                "latents": latents,
                                "wav_sha256": rec.outputs[wav].sha256 if wav else "", "codes": codes,
                                "codes_sha256": rec.outputs[codes].sha256 if codes else ""})
