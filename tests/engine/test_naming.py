"""Names made from whatever an LLM wrote stay one safe path component inside the album."""
from __future__ import annotations

import pytest

from albumgen.errors import StageError
from albumgen.naming import inside, safe_filename, slugify, slugify_unicode, track_filename, unique_names


@pytest.mark.parametrize("title, expected", [
    ("../../x", "x"),
    ("a/b\\c", "a b c"),
    ("nul\x00byte", "nul byte"),
    ("line\nbreak\ttab", "line break tab"),
    ("CON", "_CON"),
    ("con.mp3", "_con.mp3"),
    ("LPT1", "_LPT1"),
    ("COM¹", "_COM¹"),
    ("Console", "Console"),
    ("a.", "a"),
    ("trailing dots and spaces . . ", "trailing dots and spaces"),
    ("...", "untitled"),
    ("", "untitled"),
    ("  ", "untitled"),
    ('what? <yes> "no" | *', "what yes no"),
    ("evil\u202egpj.exe", "evilgpj.exe"),  # a bidi override would display it as "exe.jpg"
    ("zero\u200bwidth", "zerowidth"),
    ("Café 🎹 Nights", "Café 🎹 Nights"),
    ("Cafe\u0301", "Café"),  # NFC: macOS's NFD and Linux's NFC spellings give one name
])
def test_safe_filename(title, expected):
    assert safe_filename(title) == expected


def test_long_names_are_cut_on_character_boundaries():
    assert safe_filename("x" * 300) == "x" * 120
    name = safe_filename("é" * 300)
    assert name == "é" * 60 and len(name.encode()) == 120
    # A family emoji is four people joined by ZWJ; a cut must not leave a dangling joiner.
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"
    cut = safe_filename("a" * 117 + family)
    assert cut == "a" * 117 and len(cut.encode()) <= 120
    cut = safe_filename("a" * 112 + family)  # room for the first person and one joiner only
    assert cut == "a" * 112 + "\U0001F468"
    # A thumbs-up with a skin tone is two code points; the modifier never dangles alone.
    assert safe_filename("a" * 116 + "\U0001F44D\U0001F3FD") == "a" * 116 + "\U0001F44D"


def test_unique_names_number_collisions_case_insensitively():
    assert unique_names(["01 - A.mp3", "01 - a.mp3", "01 - A.mp3", "02 - B.mp3"]) == \
        ["01 - A.mp3", "01 - a (2).mp3", "01 - A (3).mp3", "02 - B.mp3"]


def test_track_filename():
    assert track_filename(3, 8, "../../x", "mp3") == "03 - x.mp3"
    assert track_filename(7, 12, "CON", "flac") == "07 - CON.flac"  # "07 - CON" is no reserved name
    assert track_filename(5, 120, "a.", "mp3") == "005 - a.mp3"
    assert len(track_filename(1, 9, "🎹" * 300, "mp3").encode()) == 5 + 120 + 4


def test_inside_refuses_escapes(tmp_path):
    assert inside(tmp_path, "01 - x.mp3") == tmp_path.resolve() / "01 - x.mp3"
    for bad in ("../x.mp3", "/etc/passwd", "a/b.mp3", "..", "."):
        with pytest.raises(StageError):
            inside(tmp_path, bad)


@pytest.mark.parametrize("title, slug", [
    ("Night Drive: Vol. 2!", "night-drive-vol-2"),
    ("../../etc", "etc"),
    ("🎹🎹", "album"),
    ("CON", "con-album"),
    ("Émigré Café", "emigre-cafe"),
])
def test_slugify(title, slug):
    assert slugify(title) == slug


@pytest.mark.parametrize("text, slug", [
    ("夜の街", "夜の街"),
    ("東京 Nights!", "東京-nights"),
    ("Ｔｏｋｙｏ", "tokyo"),  # full-width letters are letters
    ("a_b", "a-b"),
    ("CON", "con-album"),
    ("🎹🎹", "album"),
    ("é" * 100, "é" * 50),  # 100 bytes at most, cut between characters
])
def test_slugify_unicode_keeps_every_scripts_letters(text, slug):
    assert slugify_unicode(text) == slug


def test_slugify_falls_back_to_what_the_caller_says():
    assert slugify("夜の街", fallback="") == "" and slugify("夜の街") == "album"
