"""A pick check is one declaration (checks.py): its config limits, score weights, default,
extractor and docs rows all come from it, and the docs page says what the code does."""
from __future__ import annotations

from pathlib import Path

import audio_fixtures as F

from albumgen.stages.pick.checks import CHECKS, HARD_DEFAULT, LEARNED, docs_checks_table, docs_limit_rows
from albumgen.stages.pick.combine import checks, with_group
from albumgen.stages.pick.config import PickConfig, Weights
from albumgen.stages.pick.features import extractor, features

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"
HOW = "regenerate them with `python tools/pick_docs.py`"


def test_the_docs_tables_are_the_declared_checks():
    page = DOCS.read_text("utf-8")
    assert docs_checks_table() in page, f"docs/configuration.md's checks table is stale: {HOW}"
    assert docs_limit_rows() in page, f"docs/configuration.md's pick config rows are stale: {HOW}"


def test_config_and_weights_come_from_the_declarations():
    cfg, weights = PickConfig(), Weights().model_dump()
    for check in CHECKS:
        for lim in check.limits:
            assert getattr(cfg, lim.field) == lim.default
            assert isinstance(getattr(cfg, lim.field), int if lim.integer else float)
            assert PickConfig.model_fields[lim.field].description == lim.meaning
        for s in check.scores:
            assert weights[s.name] == s.weight
        assert (check.name in cfg.hard_checks) is check.hard
    assert set(weights) == {s.name for c in CHECKS for s in c.scores} | {s.name for s in LEARNED}
    assert sorted(cfg.hard_checks) == sorted(HARD_DEFAULT)


def test_every_extractor_measures_what_its_check_reads():
    f = with_group([features(F.music(), F.SR, [3.0])] * 2)[0]  # dull_db is measured against the group
    for check in CHECKS:
        if check.extract is None:  # measured against the prompt (adherence.py)
            continue
        assert callable(extractor(check.extract))
        for s in check.scores:
            assert s.name in f, (check.name, s.name)
        check.test(f, PickConfig())  # reads only what was measured: no KeyError
    assert checks(f, PickConfig()) == []


def test_a_limit_set_in_config_moves_its_check():
    f = features(F.clipped(), F.SR)
    assert "clipping" in {c["check"] for c in checks(f, PickConfig())}
    assert "clipping" not in {c["check"] for c in checks(f, PickConfig(max_clipping=1.0))}
