"""Parsing prompt lists as they arrive: JSON (whole, fenced, inside prose, truncated), CSV
(numbered rows, one-word headers), YAML, Markdown and plain lines with prose around them.

Parsing finds candidates; it does not judge them. clean.py strips what is left of the
decoration and drops what MusicGen cannot do.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from albumgen.errors import InputError
from albumgen.inputs import read_text

from .config import MAX_FILE_BYTES

_PROMPT_KEYS = ("prompt", "musicgen_prompt", "music_prompt", "description", "text", "style", "content", "value")
_TITLE_KEYS = ("title", "name", "track_title", "song", "track")
_MELODY_KEYS = ("melody", "melody_file")  # an audio file for melody checkpoints (render: Melody)
_LYRICS_KEYS = ("lyrics", "lyric", "words")  # what a track sings (render.backend acestep)
_LIST_KEYS = ("tracks", "prompts", "songs", "items", "candidates", "tracklist", "data", "results")
_ALBUM_KEYS = ("album_title", "albumTitle", "album", "album_name", "title", "name")
_HEADER_WORDS = {"prompt", "prompts", "description", "text", "title", "name", "id", "no", "number", "track", "n",
                 "#", "idea", "ideas", "song", "style", "musicgen_prompt", "music_prompt", *_MELODY_KEYS}
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•▪►]\s+|\(?\d{1,3}[.):\]]\s*|\d{1,3}\s*,\s*|#\d+\s)")
_ALBUM_LINE = re.compile(r"^[#*\s]*album(?:\s+(?:title|name))?[*\s]*[:\-–—][*\s]*(.+?)[*\s]*$", re.I)
_PROSE = re.compile(r"^(?:sure|here|certainly|of course|absolutely|great|okay|ok|i|i'm|i've|i'd|let me|feel free|"
                    r"note|these|this list|enjoy|happy|below|sorry|unfortunately|as an ai|would you|do you|thank)\b"
                    r"|^<", re.I)  # chatter around the list, and HTML error pages from proxies
_LABELLED = re.compile(r"^(?:title|name)\s*[:\-–—]\s*(.+?)\s+(?:prompt|description|style)\s*[:\-–—]\s*(.+)$", re.I)
_BOLD_TITLE = re.compile(r"^(?:\*\*|__|\")(.{1,80}?)(?:\*\*|__|\")\s*[:\-–—]?\s*(.*)$")
_DASH_TITLE = re.compile(r"^([^:\-–—]{1,60}?)\s+[-–—]\s+(.+)$")
_COLON_TITLE = re.compile(r"^([^:]{1,60}?):\s+(.+)$")
_INDEX = re.compile(r"#?\d{1,4}[.)]?")  # a track number in a cell of its own


@dataclass(frozen=True)
class Candidate:
    prompt: str
    title: str | None = None
    melody: str | None = None  # a melody file (relative to the pipeline file), from a melody column or key
    lyrics: str | None = None  # from a lyrics column or key, cleaned with the prompt


@dataclass
class Parsed:
    candidates: list[Candidate] = field(default_factory=list)
    album_title: str | None = None


def parse_file(path: Path, what: str | None = None) -> Parsed:
    """A prompts file as people write them. Text only: binary or mis-encoded bytes are
    refused (InputError), so they never become titles and file names."""
    path = Path(path)
    what = what or f"prompts.file: {path.name}"
    text = read_text(path, what, max_bytes=MAX_FILE_BYTES,
                     fix="save it as UTF-8 text (CSV, TXT, Markdown, JSON or YAML)")
    if not text.strip():
        raise InputError(f"{what} is empty", "write one prompt per line, or a CSV, JSON or YAML list")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            body, delimiter = csv_body(text), "\t" if suffix == ".tsv" else ","
            row = unclosed_quote(body, delimiter)
            if row is not None:
                raise InputError(f"{what}: the quote in the row that begins {row!r} is never closed, so every row "
                                 "after it would read as one prompt",
                                 'close the quote; a quote inside a quoted cell is written twice: ""')
            return Parsed(parse_csv(body, delimiter=delimiter))
        if suffix in (".yaml", ".yml"):
            try:
                found = from_object(yaml.safe_load(text))
            except yaml.YAMLError:
                found = None
            return found or parse_text(text)
        return parse_text(text)  # JSON (maybe broken), Markdown, TXT: the same forgiving path
    except RecursionError:
        raise InputError(f"{what} is nested too deeply", "a prompts file is a flat list") from None


def parse_text(text: str) -> Parsed:
    """Whatever a chatbot or a person wrote: the first reading that finds prompts wins."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fenced = re.findall(r"```[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", text, re.S)
    for body in fenced + [text]:
        found = parse_json(body)
        if found:
            return found
    body = "\n".join(fenced) if fenced and any(b.strip() for b in fenced) else text
    table = markdown_table(body)
    if table is not None:
        return Parsed(parse_csv(table))
    if looks_like_csv(body):
        return Parsed(parse_csv(body))
    return parse_lines(body)


# -- JSON ----------------------------------------------------------------------------------
def parse_json(text: str) -> Parsed | None:
    stripped = text.strip()
    try:
        return from_object(json.loads(stripped))
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    inside = None
    for m in re.finditer(r"[{\[]", text):  # JSON inside prose: the first value that decodes
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        inside = from_object(obj)
        if inside:
            break
    # In a truncated reply the first value that decodes is one inner track; the salvaged
    # array holds every complete one.
    salvaged = salvage_json(text)
    if salvaged and (not inside or len(salvaged.candidates) > len(inside.candidates)):
        return salvaged
    if inside and inside.album_title is None:
        inside.album_title = _album_in(text)
    return inside


def salvage_json(text: str) -> Parsed | None:
    """A reply cut off mid-JSON (max_tokens): keep every array element that is complete."""
    decoder = json.JSONDecoder()
    for m in list(re.finditer(r"\[", text))[:5]:
        pos, items = m.end(), []
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            try:
                obj, pos = decoder.raw_decode(text, pos)
            except ValueError:
                break
            items.append(obj)
        found = from_object(items)
        if found:
            found.album_title = _album_in(text)
            return found
    return None


def _album_in(text: str) -> str | None:
    m = re.search(r'"album(?:_title|Title|_name)?"\s*:\s*("(?:[^"\\]|\\.)*")', text)
    try:
        return json.loads(m.group(1)) if m else None
    except ValueError:
        return None


def from_object(obj: Any) -> Parsed | None:
    """Prompts from decoded JSON/YAML: a list of strings or of {title, prompt} objects, maybe
    under a key such as "tracks", maybe a {title: prompt} mapping."""
    album = None
    if isinstance(obj, dict):
        album = next((obj[k] for k in _ALBUM_KEYS if isinstance(obj.get(k), str)), None)
        lists = [obj[k] for k in _LIST_KEYS if isinstance(obj.get(k), list)]
        lists += [v for v in obj.values() if isinstance(v, list)]
        if lists:
            obj = lists[0]
        elif any(isinstance(obj.get(k), str) for k in _PROMPT_KEYS):
            obj, album = [obj], None
        elif len(obj) >= 2 and all(isinstance(k, str) and isinstance(v, str) for k, v in obj.items()):
            obj, album = [{"title": k, "prompt": v} for k, v in obj.items()], None
    if not isinstance(obj, list):
        return None
    cands = [c for c in (_candidate(item) for item in obj) if c is not None]
    return Parsed(cands, album if isinstance(album, str) else None) if cands else None


def _candidate(item: Any) -> Candidate | None:
    if isinstance(item, str):
        return Candidate(item) if item.strip() else None
    if isinstance(item, dict):
        prompt = next((item[k] for k in _PROMPT_KEYS if isinstance(item.get(k), str) and item[k].strip()), None)
        title = next((item[k] for k in _TITLE_KEYS if isinstance(item.get(k), str) and item[k].strip()), None)
        melody = next((item[k].strip() for k in _MELODY_KEYS if isinstance(item.get(k), str) and item[k].strip()), None)
        lyrics = next((item[k] for k in _LYRICS_KEYS if isinstance(item.get(k), str) and item[k].strip()), None)
        if prompt is None and title is not None and len(item) == 1:
            prompt, title = title, None
        return Candidate(prompt, title, melody, lyrics) if prompt else None
    return None


# -- CSV -----------------------------------------------------------------------------------
def looks_like_csv(text: str) -> bool:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return False
    first = [c.strip().strip('"').lower() for c in lines[0].split(",")]
    if len(first) >= 2 and any(c in _HEADER_WORDS for c in first) and all(len(c.split()) <= 2 for c in first):
        return True
    numbered = sum(bool(re.match(r'^\s*\d{1,3}\s*,\s*"', ln)) for ln in lines)
    return numbered >= max(2, len(lines) // 2)


def csv_body(text: str) -> str:
    """The CSV inside a chatbot's reply saved as .csv: the fenced block if there is one, else
    the lines left once the chatter before and after it ("Sure! Here are...", "Let me know
    if...") is cut off. A plain CSV comes back as it is."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fenced = [b for b in re.findall(r"```[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", text, re.S) if b.strip()]
    if fenced:
        return "\n".join(fenced)
    lines = text.split("\n")

    def chatter(line: str) -> bool:
        line = line.strip()
        return not line or bool(_PROSE.match(line)) or (line.endswith(":") and "," not in line)

    while lines and chatter(lines[0]):
        lines.pop(0)
    while lines and chatter(lines[-1]):
        lines.pop()
    return "\n".join(lines)


def unclosed_quote(text: str, delimiter: str = ",") -> str | None:
    """The beginning of the row whose quoted cell is never closed, or None. The csv module
    reads such a cell to the end of the file, every row after it swallowed into one prompt;
    only the last row can be that cell, and a strict reading of it alone says so."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    start = last = 1
    for _ in reader:
        last, start = start, reader.line_num + 1
    row = "\n".join(text.split("\n")[last - 1:])
    try:
        list(csv.reader(io.StringIO(row), delimiter=delimiter, skipinitialspace=True, strict=True))
    except csv.Error as e:
        if "end of data" in str(e):
            return " ".join(row.split())[:40]
    return None


def parse_csv(text: str, delimiter: str = ",") -> list[Candidate]:
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
            if any(c.strip() for c in r)]
    if not rows:
        return []
    prompt_col = title_col = melody_col = lyrics_col = None
    header = [c.strip().lower() for c in rows[0]]
    if _is_header(header, rows[1:]):
        rows = rows[1:]
        # Only a header with several columns says which one holds the prompt; a one-word
        # header ("Prompts") above `1, "..."` rows names the list, not a column.
    if len(header) >= 2 and (not rows or header != [c.strip().lower() for c in rows[0]]):
        prompt_col = next((i for i, h in enumerate(header) if h in ("prompt", "prompts", "musicgen_prompt",
                                                                    "music_prompt", "description", "text", "style")), None)
        title_col = next((i for i, h in enumerate(header) if h in ("title", "name", "song")), None)
        melody_col = next((i for i, h in enumerate(header) if h in _MELODY_KEYS), None)
        lyrics_col = next((i for i, h in enumerate(header) if h in _LYRICS_KEYS), None)
    out = []
    for row in rows:
        cells = [c.strip() for c in row]
        if prompt_col is not None and prompt_col < len(cells):
            title = cells[title_col] if title_col is not None and title_col < len(cells) else None
            melody = cells[melody_col] if melody_col is not None and melody_col < len(cells) else None
            lyrics = row[lyrics_col] if lyrics_col is not None and lyrics_col < len(row) else None
            if title and _INDEX.fullmatch(title):  # a "title" column that holds the track numbers
                title = None
            # No title of its own: the prompt may carry one ("Neon Rain: synthwave, ...").
            found = Candidate(cells[prompt_col], title) if title else _split_title(cells[prompt_col])
            out.append(Candidate(found.prompt, found.title, melody or None, lyrics or None))
            continue
        if cells and _INDEX.fullmatch(cells[0]):  # an index column
            cells = cells[1:]
        cells = [c for c in cells if c]
        if len(cells) == 2 and len(cells[0].split()) <= 6 < len(cells[1].split()):
            out.append(Candidate(cells[1], cells[0]))
        elif cells:  # an unquoted prompt with commas in it: put it back together; it may carry its title
            out.append(_split_title(", ".join(cells)))
    return [c for c in out if c.prompt]


def _is_header(header: list[str], rest: list[list[str]]) -> bool:
    if any(h in _HEADER_WORDS for h in header) and all(len(h.split()) <= 2 for h in header):
        return True
    # A one-word header nobody foresaw ("Ideas", "Retrowave"), above rows of real prompts.
    words = sum(len(c.split()) for r in rest for c in r) / max(1, len(rest))
    return len(header) == 1 and len(header[0].split()) == 1 and bool(rest) and words >= 3


# -- Markdown, TXT, prose ------------------------------------------------------------------
def markdown_table(text: str) -> str | None:
    """A Markdown table as CSV text (so one set of column rules serves both), or None."""
    rows = [ln.strip().strip("|").split("|") for ln in text.split("\n") if ln.strip().startswith("|")]
    rows = [[c.strip() for c in r] for r in rows if not all(re.fullmatch(r":?-{2,}:?", c.strip()) for c in r)]
    if len(rows) < 2:
        return None
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()



def parse_lines(text: str) -> Parsed:
    """One item per line or per list entry; with a list inside prose, only the list."""
    album, items, current = None, [], None
    for line in text.split("\n"):
        if not line.strip() or line.strip().startswith("```"):
            current = None
            continue
        m = _ALBUM_LINE.match(line)
        if m and not _LIST_ITEM.match(line):
            album, current = m.group(1), None
            continue
        if _LIST_ITEM.match(line):
            current = [line]
            items.append((current, True))
        elif current is not None and (line[:1].isspace() or len(current) == 1 and _title_only(current[0])):
            current.append(line.strip())  # the prompt under a title-only list item
        elif line.lstrip().startswith("#") or (line.rstrip().endswith(":") and len(line.split()) <= 12):
            current = None  # headings and "Here are your prompts:" introduce, they are not prompts
        elif line.strip().strip("\"'").lower() in _HEADER_WORDS:
            current = None  # a one-column file's header ("prompt"): a label, not a prompt
        else:
            current = None
            items.append(([line], False))
    listed = [lines for lines, marked in items if marked]
    chosen = listed or [lines for lines, _ in items if not _PROSE.match(lines[0].strip())]
    cands = [_split_title(" ".join(lines)) for lines in chosen]
    return Parsed([c for c in cands if c.prompt.strip()], album)


def _title_only(line: str) -> bool:
    rest = _LIST_ITEM.sub("", line, count=1).strip()
    bold = _BOLD_TITLE.fullmatch(rest)
    return (bold is not None and not bold.group(2).strip()) or len(rest.split()) <= 5


def _split_title(item: str) -> Candidate:
    """'**Neon Rain** - prompt', 'Title: X Prompt: Y', 'Neon Rain: prompt' -> title and prompt."""
    text = _LIST_ITEM.sub("", item.strip(), count=1).strip()
    text = re.sub(r"^(?:track|song)\s*\d+\s*[:.)\-–—]\s*", "", text, flags=re.I)
    for pattern in (_LABELLED, _BOLD_TITLE):
        m = pattern.match(text)
        if m and m.group(2).strip():
            return Candidate(m.group(2), m.group(1))
    for pattern in (_DASH_TITLE, _COLON_TITLE):
        m = pattern.match(text)
        if m and _is_title(m.group(1)) and len(m.group(2).split()) >= 2:
            return Candidate(m.group(2), m.group(1))
    return Candidate(text)


def _is_title(text: str) -> bool:
    words = text.strip(" \"'*").split()
    return 1 <= len(words) <= 6 and all(w[:1].isupper() or w[:1].isdigit() or w.lower() in
                                        ("a", "an", "the", "of", "in", "on", "and", "to", "for") for w in words)
