"""Parsing prompt lists as people and chatbots write them: files and reply shapes."""
from __future__ import annotations

import json

import pytest

from albumgen.errors import InputError
from albumgen.stages.prompts.clean import clean_candidates
from albumgen.stages.prompts.parse import Candidate, parse_file, parse_text


def cleaned(parsed) -> list[tuple[str | None, str]]:
    return [(c.title, c.prompt) for c in clean_candidates(parsed.candidates).kept]


ISSUE_CSV = '''Prompts
1, "Create an 80s retrowave track with pulsing synths and gated drums"
2, "Incorporate retro synthwave aesthetics into the album artwork"
3, "Experiment with vocoder vocals over a driving bassline"
4, "Create an 80s retrowave track with pulsing synths and gated drums"
5, "Compose a dreamy ambient piece with felt piano, 70 bpm"
'''


def test_csv_as_chatbots_write_it(tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_text(ISSUE_CSV, "utf-8")
    assert cleaned(parse_file(path)) == [
        (None, "80s retrowave track with pulsing synths and gated drums"),
        (None, "Experiment with vocoder synth lead over a driving bassline"),
        (None, "Dreamy ambient piece with felt piano, 70 bpm")]


CHATBOT_REPLY = """Sure! Here are 3 instrumental track ideas in CSV format:

{open}title,prompt
"Neon Rain","dreamy synthwave with gated reverb drums, 100 bpm"
"Midnight Drive","driving retro synth bass, arpeggios, 118 bpm in A minor"
"Last Train","melancholic lo-fi piano with vinyl crackle, 80 bpm"
{close}
Let me know if you'd like more!
"""


@pytest.mark.parametrize("fence", [("```csv", "```"), ("", "")], ids=["fenced", "bare"])
def test_a_chatbot_reply_saved_as_csv_keeps_only_the_rows(tmp_path, fence):
    path = tmp_path / "chatbot-prompts.csv"
    path.write_text(CHATBOT_REPLY.format(open=fence[0] + "\n" if fence[0] else "", close=fence[1]), "utf-8")
    assert cleaned(parse_file(path)) == [
        ("Neon Rain", "Dreamy synthwave with gated reverb drums, 100 bpm"),
        ("Midnight Drive", "Driving retro synth bass, arpeggios, 118 bpm in A minor"),
        ("Last Train", "Melancholic lo-fi piano with vinyl crackle, 80 bpm")]


def test_csv_with_named_columns_and_utf16_bom(tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_bytes('id,title,prompt\n1,Neon Rain,"synthwave, gated drums, 110 bpm"\n2,Dusk,ambient guitar swells\n'
                     .encode("utf-16"))
    assert cleaned(parse_file(path)) == [("Neon Rain", "Synthwave, gated drums, 110 bpm"),
                                         ("Dusk", "Ambient guitar swells")]


def test_csv_without_quotes_keeps_commas_inside_the_prompt(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("1, dreamy ambient, felt piano, 70 bpm\n2, techno, 130 bpm, rolling bass\n", "utf-8")
    assert cleaned(parse_file(path)) == [(None, "Dreamy ambient, felt piano, 70 bpm"),
                                         (None, "Techno, 130 bpm, rolling bass")]


@pytest.mark.parametrize("text", [
    '1, "Neon Rain: synthwave with gated drums, 110 bpm"\n2, "Night Drive: dark outrun, 100 bpm"\n',
    'title,prompt\n1,"Neon Rain: synthwave with gated drums, 110 bpm"\n2,"Night Drive: dark outrun, 100 bpm"\n',
], ids=["numbered rows", "numbers in the title column"])
def test_csv_titles_written_inside_the_prompt(tmp_path, text):
    path = tmp_path / "p.csv"
    path.write_text(text, "utf-8")
    assert cleaned(parse_file(path)) == [("Neon Rain", "Synthwave with gated drums, 110 bpm"),
                                         ("Night Drive", "Dark outrun, 100 bpm")]


def test_csv_with_a_quote_never_closed_is_refused_not_swallowed(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('title,prompt\nNeon Rain,"synthwave with gated drums, 110 bpm\nNight Drive,dark outrun, 100 bpm\n'
                    'Glass City,glassy arpeggios, 80 bpm\n', "utf-8")
    with pytest.raises(InputError) as e:
        parse_file(path)
    assert str(e.value) == ("prompts.file: p.csv: the quote in the row that begins 'Neon Rain,\"synthwave with gated "
                            "drums, 1' is never closed, so every row after it would read as one prompt (close the "
                            'quote; a quote inside a quoted cell is written twice: "")')
    # Closed, a quoted cell may hold lines, and an inch mark in an unquoted cell is no quote.
    path.write_text('title,prompt,lyrics\nNeon Rain,12" vinyl crackle and synthwave,"line one\nline two"\n', "utf-8")
    assert [c.lyrics for c in parse_file(path).candidates] == ["line one\nline two"]


def test_txt_one_prompt_per_line_with_prose_dropped(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("Sure! Here are some prompts for you.\n\nlo-fi hip hop with vinyl crackle, 85 bpm\n"
                    "\"jazzy piano trio, brushed drums\"\n\nI hope these help!\n", "utf-8")
    assert cleaned(parse_file(path)) == [(None, "Lo-fi hip hop with vinyl crackle, 85 bpm"),
                                         (None, "Jazzy piano trio, brushed drums")]


def test_markdown_with_album_heading_bold_titles_and_wrapped_items(tmp_path):
    path = tmp_path / "p.md"
    path.write_text("# Album: Neon Nights\n\n## Tracklist\n\n1. **Neon Rain** - synthwave with gated drums, 110 bpm\n"
                    "2. **Night Drive**\n   dark outrun with arpeggios, 100 bpm\n\n"
                    "- Title: Dusk Prompt: ambient guitar swells, 60 bpm\n", "utf-8")
    parsed = parse_file(path)
    assert parsed.album_title == "Neon Nights"
    assert cleaned(parsed) == [("Neon Rain", "Synthwave with gated drums, 110 bpm"),
                               ("Night Drive", "Dark outrun with arpeggios, 100 bpm"),
                               ("Dusk", "Ambient guitar swells, 60 bpm")]


@pytest.mark.parametrize("name, text", [
    ("p.json", json.dumps({"album": "Tides", "prompts": ["sea shanty accordion, 100 bpm", "tidal ambient drones"]})),
    ("p.json", json.dumps([{"name": "One", "description": "sea shanty accordion, 100 bpm"}, "tidal ambient drones"])),
    ("p.yaml", "album_title: Tides\ntracks:\n  - sea shanty accordion, 100 bpm\n  - prompt: tidal ambient drones\n"),
    ("p.yml", "One: sea shanty accordion, 100 bpm\nTwo: tidal ambient drones\n"),
])
def test_json_and_yaml_files(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    prompts = [p for _, p in cleaned(parse_file(path))]
    assert prompts == ["Sea shanty accordion, 100 bpm", "Tidal ambient drones"]


# -- LLM reply shapes ----------------------------------------------------------------------
TRACKS = [{"title": "Neon Rain", "prompt": "synthwave with gated drums, 110 bpm"},
          {"title": "Night Drive", "prompt": "dark outrun with arpeggios, 100 bpm"}]
CLEAN = [("Neon Rain", "Synthwave with gated drums, 110 bpm"), ("Night Drive", "Dark outrun with arpeggios, 100 bpm")]


@pytest.mark.parametrize("reply", [
    json.dumps({"album_title": "Neon Nights", "tracks": TRACKS}),
    "Here you go!\n```json\n" + json.dumps({"album_title": "Neon Nights", "tracks": TRACKS}, indent=2) + "\n```\nEnjoy.",
    "Sure. Album title: Neon Nights\n\nThe JSON: " + json.dumps({"album_title": "Neon Nights", "tracks": TRACKS}),
    json.dumps({"album_title": "Neon Nights", "tracks": TRACKS})[:-2] + ', {"title": "Cut Off", "pro',
])
def test_json_replies_whole_fenced_in_prose_or_truncated(reply):
    parsed = parse_text(reply)
    assert parsed.album_title == "Neon Nights"
    assert cleaned(parsed) == CLEAN


def test_numbered_list_inside_prose():
    reply = ("Absolutely! Here are two tracks for your album:\n\n1. Neon Rain - synthwave with gated drums, 110 bpm\n"
             "2. Night Drive - dark outrun with arpeggios, 100 bpm\n\nLet me know if you'd like changes.")
    assert cleaned(parse_text(reply)) == CLEAN


def test_markdown_table_reply():
    reply = ("| # | Title | Prompt |\n|---|:---|---|\n| 1 | Neon Rain | synthwave with gated drums, 110 bpm |\n"
             "| 2 | Night Drive | dark outrun with arpeggios, 100 bpm |\n")
    assert cleaned(parse_text(reply)) == CLEAN


def test_csv_reply():
    reply = "title,prompt\nNeon Rain,\"synthwave with gated drums, 110 bpm\"\nNight Drive,\"dark outrun with arpeggios, 100 bpm\""
    assert cleaned(parse_text(reply)) == CLEAN


def test_garbage_gives_no_usable_prompt():
    assert cleaned(parse_text("<html>502 Bad Gateway</html>\n{{{[[[")) == []
    assert cleaned(parse_text("I'm sorry, but I can't help with that.")) == []
    assert parse_text("").candidates == []


def test_candidate_defaults():
    assert Candidate("x") == Candidate("x", None)


@pytest.mark.parametrize("header", ["prompt", "Prompts", '"description"'])
def test_a_one_column_header_is_not_a_prompt(header):
    parsed = parse_text(f'{header}\n"synthwave with gated drums, 110 bpm"\ndark outrun with arpeggios, 100 bpm\n')
    assert [c.prompt.strip('"') for c in parsed.candidates] == ["synthwave with gated drums, 110 bpm",
                                                                 "dark outrun with arpeggios, 100 bpm"]
