"""Three albums as sequence would hear them (key, bpm, energy per track), listed in the
order a prompt list might give them. Shared by the order tests and bench/sequence_cost.py."""
from __future__ import annotations

ALBUMS = {
    "synthwave": [
        {"key": "A minor", "bpm": 118, "energy": 3.1}, {"key": "F# major", "bpm": 90, "energy": 1.2},
        {"key": "E minor", "bpm": 124, "energy": 4.0}, {"key": "C major", "bpm": 120, "energy": 3.5},
        {"key": "C# major", "bpm": 92, "energy": 1.0}, {"key": "G major", "bpm": 126, "energy": 4.4},
        {"key": "D# minor", "bpm": 88, "energy": 0.8}, {"key": "B minor", "bpm": 128, "energy": 4.8}],
    "lofi": [
        {"key": "F major", "bpm": 80, "energy": 1.5}, {"key": "B major", "bpm": 72, "energy": 0.9},
        {"key": "D minor", "bpm": 84, "energy": 1.8}, {"key": "E major", "bpm": 70, "energy": 0.7},
        {"key": "A# major", "bpm": 86, "energy": 2.0}, {"key": "G minor", "bpm": 82, "energy": 1.6}],
    "film": [
        {"key": "D major", "bpm": None, "energy": 0.5}, {"key": "G# minor", "bpm": 140, "energy": 5.0},
        {"key": "B minor", "bpm": 100, "energy": 2.5}, {"key": "F minor", "bpm": 150, "energy": 5.5},
        {"key": "A major", "bpm": 96, "energy": 2.2}, {"key": "C# minor", "bpm": 132, "energy": 4.1},
        {"key": "E major", "bpm": 104, "energy": 2.9}, {"key": "G# major", "bpm": 60, "energy": 0.4},
        {"key": "F# minor", "bpm": 110, "energy": 3.3}, {"key": "C minor", "bpm": 145, "energy": 5.2}],
}
