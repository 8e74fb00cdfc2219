"""Rewrite docs/configuration.md's generated pick tables (the checks table and the pick
config rows the checks declare) from stages/pick/checks.py:

    .venv/bin/python tools/pick_docs.py
"""
from __future__ import annotations

from pathlib import Path

from albumgen.stages.pick.checks import docs_checks_table, docs_limit_rows

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def main() -> None:
    lines = PAGE.read_text("utf-8").split("\n")
    start = lines.index(docs_checks_table().split("\n")[0])
    end = next(i for i in range(start, len(lines) + 1) if i == len(lines) or not lines[i].startswith("|"))
    lines[start:end] = docs_checks_table().split("\n")
    first = docs_limit_rows().split(" | ")[0]  # the first declared limit's row starts the block
    start = next(i for i, line in enumerate(lines) if line.startswith(first + " |"))
    end = next(i for i, line in enumerate(lines) if line.startswith("| `pick.hard_checks`")) + 1
    lines[start:end] = docs_limit_rows().split("\n")
    PAGE.write_text("\n".join(lines), "utf-8")


if __name__ == "__main__":
    main()
