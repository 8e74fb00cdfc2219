"""Draw the screenshots of the review page the README and docs/review.md show
(docs/review-album.png, docs/review-track.png): the demo album built with the tiny model,
one choice made by hand and waiting for the next build, photographed in headless Chromium
(Debian's chromium and chromium-driver, driven by selenium).

    .venv/bin/python tools/review_screenshots.py [--out docs]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
MAX_BYTES = 300_000  # each PNG: small enough for the repository and a README


def _album(work: Path) -> Path:
    from albumgen import registry
    from albumgen.engine import runner

    shutil.copy(ROOT / "examples" / "demo.yaml", work / "demo.yaml")
    pipeline = work / "demo.yaml"
    ctx = runner.open_pipeline(pipeline, progress=False)
    runner.build(ctx)
    ctx = runner.open_pipeline(pipeline, progress=False)
    pick = ctx.artifacts.pick("t02")
    keeper = next(t.take for t in ctx.artifacts.takes("t02") if t.take != pick.choice)
    stage = next(cls for cls in registry.stage_classes() if "keep" in cls.choices)
    stage().choose(ctx, "t02", "keep", keeper)
    return pipeline


def _shoot(driver, url: str, out: Path, height: int) -> None:
    from PIL import Image

    driver.set_window_size(1280, height)
    driver.get(url)
    driver.execute_script("return new Promise(r => { const go = () => Array.from(document.images)"
                          ".every(i => i.complete) ? r() : setTimeout(go, 100); go(); })")
    png = driver.get_screenshot_as_png()
    img = Image.open(io.BytesIO(png)).convert("RGB")
    # A palette of 256 colours keeps a dark page with pictures well under MAX_BYTES.
    buf = io.BytesIO()
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=True)
    assert buf.tell() <= MAX_BYTES, f"{out.name}: {buf.tell()} bytes"
    out.write_bytes(buf.getvalue())
    print(f"wrote {out} ({buf.tell() // 1000} kB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from albumgen.engine import runner
    from albumgen.review.server import ReviewServer

    with tempfile.TemporaryDirectory(prefix="albumgen-shots-") as tmp:
        pipeline = _album(Path(tmp))
        server = ReviewServer(runner.open_pipeline(pipeline, progress=False), pipeline="my-album.yaml").start()
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-dev-shm-usage",
                     f"--user-data-dir={Path(tmp) / 'profile'}"):
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        try:
            base = server.url.split("/?")[0]
            _shoot(driver, server.url, args.out / "review-album.png", 1080)
            _shoot(driver, f"{base}/track/t02?token={server.token}", args.out / "review-track.png", 1180)
        finally:
            driver.quit()
            server.close()


if __name__ == "__main__":
    main()
