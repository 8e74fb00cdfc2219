"""The review page in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium) on a real tiny album: players and pictures load, a take's audio becomes playable,
the actions change the overrides and the next build follows, a running build shows up live,
hostile titles stay text, and no token means 403. Screenshots go to the test's tmp folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from review_album import HOSTILE_ALBUM, HOSTILE_PROMPT, HOSTILE_TITLE, copy_album

from albumgen.engine import runner
from albumgen.review.server import ReviewServer

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1400", "--autoplay-policy=no-user-gesture-required"]


def _why_skip() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            return f"{path} is missing (apt-get install {pkg}; .ci/run installs it in CI)"
    return None


if _why_skip():
    pytest.skip(_why_skip(), allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def built(review_album_folder):
    return review_album_folder  # one build for the server's and the browser's tests


@pytest.fixture
def served(built, tmp_path):
    pipeline, ctx = copy_album(built, tmp_path / "a")
    server = ReviewServer(ctx, pipeline=pipeline).start()
    yield server, ctx
    server.close()


@pytest.fixture
def browser(tmp_path):
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait(driver, script: str, timeout: float = 30):
    """Wait until the JS expression is truthy; return its value."""
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(f"return {script}"))


IMAGES_DONE = "Array.from(document.images).every(i => i.complete)"


def assert_no_alert(driver):
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text  # raises when there is no alert


def base(server) -> str:
    return server.url.split("/?")[0]


def test_album_view_has_every_track_player_and_picture(served, browser, tmp_path):
    server, ctx = served
    browser.get(server.url)
    wait(browser, IMAGES_DONE)
    rows = browser.find_elements(By.CSS_SELECTOR, "section.track-row")
    assert len(rows) == 2
    for row in rows:
        assert row.find_element(By.CSS_SELECTOR, "audio.master").get_attribute("src").endswith(
            "token=" + server.token)
        pic = row.find_element(By.CSS_SELECTOR, "img.loudness-pic")
        assert browser.execute_script("return arguments[0].naturalWidth", pic) == 800
        assert "LUFS" in row.find_element(By.CLASS_NAME, "loudness").text
        assert "dBTP true peak" in row.find_element(By.CLASS_NAME, "peak").text
    assert browser.execute_script("return document.querySelector('img.cover').naturalWidth") > 0
    # The hostile album title is text in the heading and the tab title; no <img src=x> exists.
    assert browser.find_element(By.CSS_SELECTOR, "h1.album-title").text == HOSTILE_ALBUM
    assert browser.title == HOSTILE_ALBUM
    assert browser.find_elements(By.CSS_SELECTOR, "img[src='x']") == []
    assert browser.find_element(By.CSS_SELECTOR, "#row-t02 a.track-title").text == HOSTILE_TITLE
    assert_no_alert(browser)
    # Play all: the first track starts, the whole album in order.
    browser.find_element(By.ID, "play-all").click()
    wait(browser, "!document.querySelector('#row-t01 audio').paused || document.querySelector('#row-t01 audio').ended")
    wait(browser, "!document.querySelector('#row-t02 audio').paused", timeout=20)  # after t01's 1 s ends
    browser.save_screenshot(str(tmp_path / "album-view.png"))


def test_track_view_has_every_take_with_player_picture_and_reasons(served, browser, tmp_path):
    server, ctx = served
    browser.get(server.url)
    browser.find_element(By.CSS_SELECTOR, "#row-t02 a.track-title").click()
    wait(browser, f"location.pathname === '/track/t02' && {IMAGES_DONE}")
    assert browser.find_element(By.CSS_SELECTOR, "h1.track-title").text == f"02. {HOSTILE_TITLE}"
    assert browser.find_element(By.CSS_SELECTOR, ".track-head .prompt").text == HOSTILE_PROMPT
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 2  # ours: play.js, review.js
    assert browser.find_elements(By.CSS_SELECTOR, "b[onmouseover]") == []
    assert_no_alert(browser)

    report = json.loads((ctx.album_dir / "manifest/picks/t02.json").read_text())
    pick = ctx.manifest.record("pick", "t02").data
    takes = browser.find_elements(By.CSS_SELECTOR, "article.take")
    assert len(takes) == len(report["takes"]) == 2
    for art, scored in zip(takes, report["takes"]):
        assert art.find_element(By.TAG_NAME, "h2").text.startswith(f"take {scored['take']}")
        assert art.find_element(By.CSS_SELECTOR, "audio.take-audio")
        pic = art.find_element(By.CSS_SELECTOR, "img.take-pic")
        assert browser.execute_script("return arguments[0].naturalWidth", pic) == 800
        # The same words as `albumgen pick --track 2`
        reasons = [li.text for li in art.find_elements(By.CSS_SELECTOR, "ul.reasons li")]
        assert reasons == (scored["rejects"] + scored["warnings"] or ["ok"])
        assert art.find_element(By.CLASS_NAME, "score").text == f"score {scored['score']:+.2f}"
    picked = browser.find_element(By.CSS_SELECTOR, "article.take.picked")
    assert picked.find_element(By.TAG_NAME, "h2").text == f"take {pick['choice']} picked (all rejected)"

    state = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const a = document.querySelector('article.take audio');
        a.preload = 'auto';
        a.addEventListener('canplaythrough', () => done([a.readyState, a.duration]));
        a.addEventListener('error', () => done(['error', a.error && a.error.code]));
        a.load();
    """)
    assert state[0] == 4 and abs(state[1] - 1.0) < 0.05  # HAVE_ENOUGH_DATA, the 1 s take
    browser.save_screenshot(str(tmp_path / "track-view.png"))


def test_keep_this_take_changes_the_overrides_and_the_next_build_remasters_only_that_track(
        served, browser, tmp_path):
    server, ctx = served
    auto = ctx.manifest.record("pick", "t01").data["choice"]
    other = 2 if auto == 1 else 1
    t02_master = ctx.manifest.record("master", "t02").finished_at
    browser.get(f"{base(server)}/track/t01?token={server.token}")
    wait(browser, IMAGES_DONE)
    browser.find_element(By.CSS_SELECTOR, f"#t01-take-{other} button[data-action='keep']").click()
    wait(browser, "document.getElementById('message').textContent.includes('will use take')")
    assert json.loads((ctx.album_dir / "manifest/picks/overrides.json").read_text()) == {
        "schema_version": 1, "tracks": {"t01": other}}
    wait(browser, "document.querySelector('.track-head').textContent.includes('kept by hand')")

    report = runner.build(runner.open_pipeline(ctx.base_dir / "pipeline.yaml", progress=False))
    assert (report.stages["render"].ran, report.stages["pick"].ran) == (0, 1)
    fresh = runner.open_pipeline(ctx.base_dir / "pipeline.yaml", progress=False).manifest
    assert fresh.record("master", "t01").data["take"] == other
    assert fresh.record("master", "t02").finished_at == t02_master
    # The open page follows the build without a reload.
    wait(browser, f"(document.querySelector('#t01-take-{other} .badge') || {{}}).textContent === 'picked (manual)'",
         timeout=20)
    browser.save_screenshot(str(tmp_path / "after-keep.png"))


def test_render_more_takes_makes_the_next_build_render_exactly_that_many_and_the_page_shows_it_live(
        served, browser, tmp_path):
    server, ctx = served
    browser.get(f"{base(server)}/track/t01?token={server.token}")
    wait(browser, IMAGES_DONE)
    count = browser.find_element(By.CSS_SELECTOR, "input.more-count")
    count.clear()
    count.send_keys("2")
    browser.find_element(By.CSS_SELECTOR, "button[data-action='more']").click()
    wait(browser, "document.getElementById('message').textContent.includes('2 more takes')")
    assert json.loads((ctx.album_dir / "manifest/picks/overrides.json").read_text()) == {
        "schema_version": 1, "tracks": {}, "more_takes": {"t01": 2}}
    wait(browser, "document.querySelector('.track-head').textContent.includes('2 more takes asked for')")

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    build = subprocess.Popen([sys.executable, "-m", "albumgen", "build", str(ctx.base_dir / "pipeline.yaml")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    saw_running = saw_disabled = False
    try:
        deadline = time.monotonic() + 300
        while build.poll() is None and time.monotonic() < deadline:
            text = browser.find_element(By.ID, "progress").text
            if f"build running (pid {build.pid})" in text:
                saw_running = True
                saw_disabled = saw_disabled or browser.execute_script(
                    "return document.querySelector('button[data-action=\"more\"]').disabled")
            time.sleep(0.2)
        out, err = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
    assert build.returncode == 0, err
    assert saw_running and saw_disabled
    events = [json.loads(x) for x in (ctx.album_dir / "manifest/events.jsonl").read_text().splitlines()]
    last = max(i for i, e in enumerate(events) if e["event"] == "build_start")
    rendered = [e["unit"] for e in events[last:] if e["event"] == "unit_done" and e["stage"] == "render"]
    assert rendered == ["t01/take-3", "t01/take-4"]
    # New takes appear on the open page, with their pictures, without a reload.
    wait(browser, f"document.querySelectorAll('article.take').length === 4 && {IMAGES_DONE}", timeout=30)
    wait(browser, "Array.from(document.querySelectorAll('img.take-pic')).every(i => i.naturalWidth > 0)")
    # The page polls the lock: it says so at its next poll after the build ended, not at once.
    wait(browser, "document.getElementById('progress').textContent.includes('no build running')", timeout=30)
    browser.save_screenshot(str(tmp_path / "after-more.png"))


# Every player's length, once the browser has read the file's header (preload=metadata).
DURATIONS = "Array.from(document.querySelectorAll('audio')).map(a => a.duration)"


def wait_durations(driver, count: int) -> list[float]:
    wait(driver, f"{DURATIONS}.length === {count} && {DURATIONS}.every(d => isFinite(d) && d > 0)")
    return driver.execute_script(f"return {DURATIONS}")


def test_every_player_shows_its_length_without_being_played(served, browser):
    server, ctx = served
    browser.get(server.url)
    assert all(a.get_attribute("preload") == "metadata" for a in browser.find_elements(By.TAG_NAME, "audio"))
    masters = [ctx.manifest.record("master", t).data["duration"] for t in ("t01", "t02")]
    assert wait_durations(browser, 2) == [pytest.approx(d, abs=0.06) for d in masters]
    # The length is also written beside each player by the server, so it shows at once.
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".track-row .duration")] == ["0:01", "0:01"]
    browser.get(f"{base(server)}/track/t01?token={server.token}")
    assert wait_durations(browser, 2) == [pytest.approx(1.0, abs=0.05)] * 2
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, "article.take .duration")] == ["0:01", "0:01"]


def test_takes_table_sits_above_the_cards_and_keep_there_shows_as_pending_in_the_album_view(
        served, browser, tmp_path):
    server, ctx = served
    auto = ctx.manifest.record("pick", "t02").data["choice"]
    other = 2 if auto == 1 else 1
    browser.get(f"{base(server)}/track/t02?token={server.token}")
    order = browser.execute_script(
        "return Array.from(document.getElementById('main').children).map(e => e.className.split(' ')[0])")
    assert order[:2] == ["track-head", "takes-table"] and order[2:4] == ["take", "take"]
    rows = browser.find_elements(By.CSS_SELECTOR, "table.takes tbody tr")
    report = json.loads((ctx.album_dir / "manifest/picks/t02.json").read_text())
    assert len(rows) == len(report["takes"]) == 2
    for row, scored in zip(rows, report["takes"]):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[0].startswith(f"take {scored['take']}") and cells[1] == f"{scored['score']:+.2f}"
        assert cells[2] == ("; ".join(scored["rejects"] + scored["warnings"]) or "ok")
    # Nothing waits yet: the album view has no pending box.
    browser.get(server.url)
    assert browser.find_elements(By.ID, "pending") == []
    browser.get(f"{base(server)}/track/t02?token={server.token}")
    browser.find_element(By.CSS_SELECTOR, f"table.takes button[data-action='keep'][data-take='{other}']").click()
    wait(browser, "document.getElementById('message').textContent.includes('will use take')")
    wait(browser, "(document.querySelector('.track-head code') || {}).textContent === "
         + json.dumps(f"albumgen build {ctx.base_dir / 'pipeline.yaml'}"))
    browser.get(server.url)
    pending = browser.find_element(By.ID, "pending")
    assert pending.find_element(By.CSS_SELECTOR, "li").text == (
        f"02 {HOSTILE_TITLE}: take {other} kept by hand: the next build picks and masters it")
    assert pending.find_element(By.ID, "build-command").text == f"albumgen build {ctx.base_dir / 'pipeline.yaml'}"
    assert "take " + str(other) + " kept by hand" in browser.find_element(By.ID, "row-t02").text
    assert_no_alert(browser)
    browser.save_screenshot(str(tmp_path / "pending.png"))
    # The build applies it: the pending box goes away on the open page, without a reload.
    runner.build(runner.open_pipeline(ctx.base_dir / "pipeline.yaml", progress=False))
    wait(browser, "document.getElementById('pending') === null", timeout=20)
    assert f"take {other} (manual)" in browser.find_element(By.ID, "row-t02").text


def test_install_hints_are_one_folded_line_at_the_bottom(served, browser):
    server, ctx = served
    skipped = json.loads((ctx.album_dir / "manifest/picks/t01.json").read_text())["skipped"]
    assert skipped  # the test machine has no CLAP or aesthetics weights
    browser.get(f"{base(server)}/track/t01?token={server.token}")
    last = browser.execute_script("return document.getElementById('main').lastElementChild")
    assert last.get_attribute("class") == "hints"
    summary = last.find_element(By.TAG_NAME, "summary")
    assert summary.text == "Not checked: " + ", ".join(sorted(skipped))
    details = last.find_element(By.TAG_NAME, "details")
    assert details.get_attribute("open") is None  # folded: one line until opened
    assert browser.execute_script("return arguments[0].getBoundingClientRect().height", details) < 30


def test_script_in_a_track_title_stays_text_everywhere(served, browser):
    """The title holds `"><script>alert(2)</script>`: it must be text in the album view, the
    track view, the takes table and the pending box, and never run."""
    server, ctx = served
    for url in (server.url, f"{base(server)}/track/t02?token={server.token}"):
        browser.get(url)
        assert len(browser.find_elements(By.TAG_NAME, "script")) == 2  # ours: play.js, review.js
        assert HOSTILE_TITLE in browser.find_element(By.TAG_NAME, "main").text
        assert_no_alert(browser)


def test_no_token_no_page(served, browser):
    server, _ = served
    for url in (base(server) + "/", base(server) + "/track/t01", base(server) + "/?token=nope"):
        browser.get(url)
        assert "403 forbidden" in browser.find_element(By.TAG_NAME, "body").text
        assert browser.find_elements(By.TAG_NAME, "audio") == []


def test_export_folder_plays_from_disk_with_every_duration(served, browser, tmp_path):
    server, ctx = served
    from albumgen.review.export import export

    out = export(ctx, tmp_path / "share")
    browser.get(out.as_uri())
    wait(browser, IMAGES_DONE)
    durations = wait_durations(browser, 6)  # 2 masters, 4 takes
    assert durations == [pytest.approx(1.0, abs=0.1)] * 6
    assert browser.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
    assert_no_alert(browser)
    browser.save_screenshot(str(tmp_path / "export-folder.png"))


def test_export_opens_from_disk_with_pictures_and_playable_audio(served, browser, tmp_path):
    server, ctx = served
    from albumgen.review.export import export

    out = export(ctx, tmp_path / "review.html")
    browser.get(out.as_uri())
    wait(browser, IMAGES_DONE)
    sizes = browser.execute_script("return Array.from(document.querySelectorAll('img.pic')).map(i => i.naturalWidth)")
    assert sizes == [800] * 6
    assert browser.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
    state = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const a = document.querySelector('audio.master');
        a.preload = 'auto';
        a.addEventListener('canplaythrough', () => done(a.readyState));
        a.addEventListener('error', () => done('error ' + (a.error && a.error.code)));
        a.load();
    """)
    assert state == 4
    assert_no_alert(browser)
    browser.save_screenshot(str(tmp_path / "export.png"))
