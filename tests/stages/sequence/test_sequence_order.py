"""The running order: flow beats the listed order on key and tempo, opens strong and
closes calm; as_listed never reorders."""
from __future__ import annotations

import itertools

import pytest
from order_fixtures import ALBUMS

from albumgen.audio.music import key_distance
from albumgen.stages.sequence import order


@pytest.mark.parametrize("name", sorted(ALBUMS))
def test_flow_beats_the_listed_order(name):
    tracks = ALBUMS[name]
    listed = list(range(len(tracks)))
    flowed = order.flow(tracks)
    assert sorted(flowed) == listed
    assert order.path_cost(tracks, flowed) < order.path_cost(tracks, listed)
    assert order.total_cost(tracks, flowed) < order.total_cost(tracks, listed)


@pytest.mark.parametrize("name", sorted(ALBUMS))
def test_flow_puts_compatible_keys_together_and_ends_calm(name):
    tracks = ALBUMS[name]
    flowed = order.flow(tracks)
    clashes = sum(key_distance(tracks[a]["key"], tracks[b]["key"]) > 1 for a, b in zip(flowed, flowed[1:]))
    listed = sum(key_distance(a["key"], b["key"]) > 1 for a, b in zip(tracks, tracks[1:]))
    assert clashes < listed
    energies = sorted(t["energy"] for t in tracks)
    assert tracks[flowed[-1]]["energy"] <= energies[len(energies) // 2]  # a calm closer
    assert tracks[flowed[0]]["energy"] >= energies[len(energies) // 2]  # a strong opener


def test_exact_order_is_the_optimum():
    tracks = ALBUMS["lofi"]
    best = min(itertools.permutations(range(len(tracks))), key=lambda p: order.total_cost(tracks, list(p)))
    assert order.total_cost(tracks, order.flow(tracks)) == pytest.approx(order.total_cost(tracks, list(best)))


def test_two_opt_on_a_long_album_is_never_worse_than_listed():
    tracks = [t for name in sorted(ALBUMS) for t in ALBUMS[name]]  # 24 tracks: past the exact solver
    assert len(tracks) > order.EXACT_MAX
    flowed = order.flow(tracks)
    assert sorted(flowed) == list(range(len(tracks)))
    assert order.total_cost(tracks, flowed) < order.total_cost(tracks, list(range(len(tracks))))


def test_reasons_name_the_neighbours():
    tracks = ALBUMS["lofi"]
    titles = [f"T{i}" for i in range(len(tracks))]
    flowed = order.flow(tracks)
    why = order.reasons(tracks, flowed, titles, "flow")
    assert why[0].startswith("opener:") and "closer:" in why[-1]
    assert f"after {titles[flowed[0]]!r}" in why[1] and "bpm" in why[1]
    assert order.reasons(tracks, list(range(6)), titles, "as_listed") == ["as listed (album.order: as_listed)"] * 6
