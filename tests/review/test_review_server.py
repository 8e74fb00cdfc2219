"""`albumgen review` over real loopback HTTP: the token, files only from inside the album,
actions validated before anything is written and refused while a build holds the lock,
pictures made once, progress read without the lock, and the static export."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from PIL import Image
from review_album import HOSTILE_ALBUM, copy_album, fetch

from albumgen.cli import main
from albumgen.engine import runner
from albumgen.review import pictures
from albumgen.review.server import ReviewServer


@pytest.fixture
def built(review_album_folder):
    return review_album_folder  # one build for the server's and the browser's tests


@pytest.fixture
def album(built, tmp_path):
    return copy_album(built, tmp_path / "a")


@pytest.fixture
def served(album):
    pipeline, ctx = album
    server = ReviewServer(ctx).start()
    yield server, ctx
    server.close()


def base(server) -> str:
    return server.url.split("/?")[0]


def raw_get(server, target: str) -> tuple[int, bytes]:
    """A request target exactly as given: no client normalises the `..` away."""
    host, port = server.httpd.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("GET", target, skip_accept_encoding=True)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def overrides_bytes(ctx) -> bytes | None:
    path = ctx.album_dir / "manifest/picks/overrides.json"
    return path.read_bytes() if path.exists() else None


def test_every_route_needs_the_token(served):
    server, ctx = served
    b = base(server)
    for path in ("/", "/track/t01", "/api/poll?view=album", "/files/cover.jpg", "/picture/take/t01/take-1.png",
                 "/static/review.js"):
        for suffix in ("", ("&" if "?" in path else "?") + "token=wrong" + server.token[5:]):
            status, body, _ = fetch(b + path + suffix)
            assert status == 403, path + suffix
            assert b"403 forbidden" in body
    status, _, _ = fetch(b + "/api/action", data=json.dumps({"action": "auto", "track": "t01"}).encode(),
                         headers={"Content-Type": "application/json"})
    assert status == 403
    assert overrides_bytes(ctx) is None
    status, _, headers = fetch(server.url)
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]


def test_only_files_inside_the_album_are_served(served, tmp_path):
    server, ctx = served
    t = "token=" + server.token
    secret = ctx.base_dir / "pipeline.yaml"  # beside the album folder, not in it
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the album")
    (ctx.album_dir / "link-out.txt").symlink_to(outside)
    (ctx.album_dir / "link-in.jpg").symlink_to(ctx.album_dir / "cover.jpg")
    assert raw_get(server, f"/files/cover.jpg?{t}")[0] == 200
    assert raw_get(server, f"/files/link-in.jpg?{t}")[0] == 200  # a link that stays inside is fine
    for target in (f"/files/../pipeline.yaml?{t}", f"/files/../../a/pipeline.yaml?{t}",
                   f"/files/%2e%2e/pipeline.yaml?{t}", f"/files/%2E%2E%2Fpipeline.yaml?{t}",
                   f"/files/manifest/..%2f..%2fpipeline.yaml?{t}", f"/files/{quote(str(secret))}?{t}",
                   f"/files//{secret}?{t}", f"/files/link-out.txt?{t}", f"/files/%00cover.jpg?{t}",
                   f"/files/manifest?{t}", f"/files/?{t}"):
        status, body = raw_get(server, target)
        assert status == 404, target
        assert b"output_dir" not in body and b"outside the album" not in body, target  # nothing leaked


def test_files_support_ranges_for_seeking_audio(served):
    server, ctx = served
    wav = "manifest/takes/t01/take-1.wav"
    whole = (ctx.album_dir / wav).read_bytes()
    url = f"{base(server)}/files/{wav}?token={server.token}"
    status, body, headers = fetch(url, headers={"Range": "bytes=100-199"})
    assert (status, body, headers["Content-Range"]) == (206, whole[100:200], f"bytes 100-199/{len(whole)}")
    status, body, _ = fetch(url, headers={"Range": "bytes=-10"})
    assert (status, body) == (206, whole[-10:])
    assert fetch(url, headers={"Range": f"bytes={len(whole)}-"})[0] == 416
    status, body, headers = fetch(url)
    assert (status, body, headers["Content-Type"]) == (200, whole, "audio/wav")


def post(server, body, token=True) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Albumgen-Token": server.token if token else ""}
    status, raw, _ = fetch(f"{base(server)}/api/action", data=data, headers=headers)
    return status, json.loads(raw)


@pytest.mark.parametrize("body, message", [
    ({"action": "keep", "track": "t09", "take": 1}, "no track 't09' in this album"),
    ({"action": "keep", "track": "1", "take": 1}, "no track '1' in this album"),
    ({"action": "keep", "track": "t01", "take": 7}, "track 1 has no take 7 (rendered: 1, 2) (pick a rendered take)"),
    ({"action": "keep", "track": "t01", "take": "2"}, "take must be a whole number, got '2'"),
    ({"action": "keep", "track": "t01", "take": True}, "take must be a whole number, got True"),
    ({"action": "keep", "track": "t01"}, "take must be a whole number, got None"),
    ({"action": "more", "track": "t01", "count": 0}, "more takes must be a whole number from 1 to 32, got 0"),
    ({"action": "more", "track": "t01", "count": 2.5}, "count must be a whole number, got 2.5"),
    ({"action": "delete", "track": "t01"}, "unknown action 'delete' (use one of: keep, auto, more)"),
    (["keep"], "the body must be a JSON object"),
    (b"{not json", "the body is not valid JSON"),
])
def test_bad_actions_get_400_with_a_message_and_write_nothing(served, body, message):
    server, ctx = served
    manifest = [ctx.album_dir / "manifest" / name for name in ("manifest.json", "journal.jsonl")]
    before = [p.read_bytes() if p.exists() else None for p in manifest]
    status, reply = post(server, body)
    assert status == 400
    assert message in reply["error"]
    assert overrides_bytes(ctx) is None
    assert [p.read_bytes() if p.exists() else None for p in manifest] == before


def test_actions_use_the_pick_library_and_a_build_follows(served):
    server, ctx = served
    pipeline = ctx.base_dir / "pipeline.yaml"
    auto = ctx.manifest.record("pick", "t01").data["choice"]
    other = 2 if auto == 1 else 1
    t02_master = ctx.manifest.record("master", "t02").finished_at
    status, reply = post(server, {"action": "keep", "track": "t01", "take": other})
    assert status == 200 and reply["message"] == f"Track 1 will use take {other} (manual): the next build masters it"
    assert json.loads(overrides_bytes(ctx)) == {"schema_version": 1, "tracks": {"t01": other}}
    ctx2 = runner.open_pipeline(pipeline, progress=False)
    report = runner.build(ctx2)
    assert (report.stages["render"].ran, report.stages["pick"].ran) == (0, 1)
    assert ctx2.manifest.record("master", "t01").data["take"] == other
    assert ctx2.manifest.record("pick", "t01").data["manual"] is True
    assert ctx2.manifest.record("master", "t02").finished_at == t02_master  # only that track re-mastered

    status, reply = post(server, {"action": "more", "track": "t02", "count": 1})
    assert status == 200 and "Track 2 will get 1 more take at the next build (1 asked in all)" == reply["message"]
    report = runner.build(runner.open_pipeline(pipeline, progress=False))
    assert report.stages["render"].ran == 1

    status, reply = post(server, {"action": "auto", "track": "t01"})
    assert status == 200
    assert json.loads(overrides_bytes(ctx)) == {"schema_version": 1, "tracks": {}, "more_takes": {"t02": 1}}


HOLD = """
import sys, time
from albumgen.engine.store.manifest import AlbumLock
with AlbumLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_running_build_is_shown_and_actions_are_refused_until_it_ends(served):
    server, ctx = served
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ctx.album_dir / "manifest")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        status, body, _ = fetch(f"{base(server)}/api/poll?view=album&token={server.token}")
        state = json.loads(body)
        assert f"build running (pid {holder.pid})" in state["progress"]
        status, reply = post(server, {"action": "keep", "track": "t01", "take": 1})
        assert status == 409
        assert reply["error"] == (f"another albumgen build (pid {holder.pid}) is writing {ctx.album_dir} "
                                  "(wait for it to finish, or stop that process); nothing was changed, "
                                  "try again when the build has finished")
        assert overrides_bytes(ctx) is None
        assert post(server, {"action": "more", "track": "t01", "count": 2})[0] == 409
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    _, body, _ = fetch(f"{base(server)}/api/poll?view=album&since={state['version']}&token={server.token}")
    state = json.loads(body)
    assert "no build running" in state["progress"] and "class=\"running\"" not in state["progress"]
    assert post(server, {"action": "keep", "track": "t01", "take": 1})[0] == 200


def test_titles_and_prompts_are_text(served):
    server, ctx = served
    for path in ("/", "/track/t02"):
        _, body, _ = fetch(f"{base(server)}{path}?token={server.token}")
        html = body.decode()
        assert "<img src=x" not in html and "<script>alert" not in html and "<b onmouseover" not in html
    _, body, _ = fetch(f"{base(server)}/?token={server.token}")
    assert "&lt;img src=x onerror=alert(1)&gt;" in body.decode()
    _, body, _ = fetch(f"{base(server)}/track/t02?token={server.token}")
    assert "&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in body.decode()  # markupsafe's escapes
    assert ctx.manifest.record("prompts", "tracklist").data["album_title"] == HOSTILE_ALBUM


def test_pictures_are_made_once_and_keyed_by_audio_and_code_version(served, monkeypatch):
    server, ctx = served
    url = f"{base(server)}/picture/take/t01/take-2.png?token={server.token}"
    status, png, _ = fetch(url)
    assert status == 200
    cache = sorted((ctx.album_dir / pictures.CACHE).glob("take-*.png"))
    assert len(cache) == 1
    with Image.open(cache[0]) as img:
        assert img.size == (pictures.WIDTH, pictures.TAKE_H)
    made = cache[0].stat().st_mtime_ns
    assert fetch(url)[1] == png and cache[0].stat().st_mtime_ns == made  # read back, not drawn again
    monkeypatch.setattr(pictures, "VERSION", "test-next")
    assert fetch(url)[0] == 200
    assert len(list((ctx.album_dir / pictures.CACHE).glob("take-*.png"))) == 2
    status, png, _ = fetch(f"{base(server)}/picture/master/t01.png?token={server.token}")
    with Image.open(__import__("io").BytesIO(png)) as img:
        assert img.size == (pictures.WIDTH, pictures.LOUD_H)
    assert fetch(f"{base(server)}/picture/take/t01/take-9.png?token={server.token}")[0] == 404
    assert fetch(f"{base(server)}/picture/take/../x.png?token={server.token}")[0] == 404


def test_take_picture_shows_where_the_sound_is(tmp_path):
    """A tone in the first half only: the waveform is tall there and flat after, and the
    spectrogram's bright row sits at the tone's frequency."""
    import numpy as np

    from albumgen.audio.io import write_wav

    sr = 32000
    t = np.arange(sr * 2) / sr
    audio = np.where(t < 1, 0.5 * np.sin(2 * np.pi * 1000 * t), 0).astype(np.float32)
    write_wav(tmp_path / "tone.wav", audio[:, None], sr)
    img = np.asarray(Image.open(__import__("io").BytesIO(pictures.take_png(tmp_path / "tone.wav"))).convert("L"))
    plot = slice(pictures.LEFT, pictures.LEFT + pictures.PLOT_W)  # right of the axis labels
    wave = img[:pictures.WAVE_H, plot].astype(int)
    spec = img[pictures.WAVE_H:pictures.WAVE_H + pictures.SPEC_H, plot].astype(int)
    half = pictures.PLOT_W // 2
    lit = (wave > 60).sum(axis=0)
    assert lit[: half - 5].min() > pictures.WAVE_H * 0.8 and lit[half + 5:].max() <= 2
    rows = np.geomspace(pictures.FREQ_RANGE[0], pictures.FREQ_RANGE[1], pictures.SPEC_H)[::-1]
    brightest = spec[:, : half].mean(axis=1).argmax()
    assert abs(np.log2(rows[brightest] / 1000)) < 0.1


def test_export_is_one_file_with_pictures_inline_and_audio_linked(album, tmp_path):
    pipeline, ctx = album
    out = tmp_path / "share" / "review.html"
    out.parent.mkdir()
    res = CliRunner().invoke(main, ["review", str(pipeline), "--export", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        f"Wrote {out}", f"Its players link into {ctx.album_dir}: keep the two together, or use --export DIR "
                        "or --embed to send it on its own"]
    html = out.read_text()
    assert html.count("data:image/png;base64,") == 4 + 2  # every take and every mastered track
    assert "data-action" not in html and "/api/" not in html and "token" not in html
    import re

    links = re.findall(r'<audio[^>]* src="([^"]+)"', html)
    assert len(links) == 4 + 2
    from urllib.parse import unquote

    for link in links:
        assert (out.parent / unquote(link)).resolve().is_file(), link
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html


def _links(html: str) -> tuple[list[str], list[str]]:
    import re

    return re.findall(r'<audio[^>]* src="([^"]+)"', html), re.findall(r'<img[^>]* src="([^"]+)"', html)


def test_export_folder_works_when_zipped_and_unpacked_elsewhere(album, tmp_path):
    """--export DIR: the page, every sound (takes as MP3) and every picture inside the folder,
    so a zip of it plays on a machine without the album. No actions, no install hints."""
    import zipfile
    from urllib.parse import unquote

    from albumgen.audio.ffmpeg import decode

    pipeline, ctx = album
    out = tmp_path / "share"
    res = CliRunner().invoke(main, ["review", str(pipeline), "--export", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"Wrote {out}/ (open index.html; zip the folder to send it)"
    archive = tmp_path / "sent.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in out.rglob("*"):
            z.write(p, p.relative_to(out))
    shutil.rmtree(out)
    shutil.move(ctx.album_dir, tmp_path / "album-gone")  # the receiver has no album folder
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(archive).extractall(unpacked)
    html = (unpacked / "index.html").read_text()
    audio, images = _links(html)
    assert len(audio) == 4 + 2 and len(images) == 4 + 2 + 1  # takes, masters, the cover
    for link in audio + images:
        assert not link.startswith(("/", "data:", "..")) and (unpacked / unquote(link)).is_file(), link
    takes = [a for a in audio if "take-" in a]
    assert len(takes) == 4 and all(a.endswith(".mp3") for a in audio)
    sound, sr = decode(unpacked / unquote(takes[0]), channels=1)
    assert abs(len(sound) / sr - 1.0) < 0.1  # the 1 s take, as MP3
    assert "data-action" not in html and "token" not in html and "Not checked" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html


def test_export_embed_is_one_file_with_every_sound_inside(album, tmp_path):
    import base64

    from albumgen.audio.ffmpeg import decode

    pipeline, ctx = album
    out = tmp_path / "review.html"
    res = CliRunner().invoke(main, ["review", str(pipeline), "--export", str(out), "--embed"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"Wrote {out} (pictures and audio inside: send it as it is)"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a", "review.html"])
    audio, images = _links(out.read_text())
    assert len(audio) == 6 and all(a.startswith("data:audio/mpeg;base64,") for a in audio)
    assert all(i.startswith("data:image/") for i in images)
    (tmp_path / "one.mp3").write_bytes(base64.b64decode(audio[-1].split(",", 1)[1]))
    sound, sr = decode(tmp_path / "one.mp3", channels=1)
    assert abs(len(sound) / sr - 1.0) < 0.1
    # --embed is for one file; a folder name with it is a mistake said in one line.
    res = CliRunner().invoke(main, ["review", str(pipeline), "--export", str(tmp_path / "dir"), "--embed"])
    assert res.exit_code == 2 and res.output.strip().startswith("Error: --embed writes one file")


def test_cli_port_in_use_is_a_one_line_error(album):
    pipeline, ctx = album
    server = ReviewServer(ctx)
    try:
        port = server.httpd.server_address[1]
        res = CliRunner().invoke(main, ["review", str(pipeline), "--port", str(port), "--no-open"])
        assert res.exit_code == 2
        assert res.output.strip().splitlines()[-1] == (f"Error: cannot listen on 127.0.0.1:{port}: Address already in use "
                                                       "(pick another --port, or leave it out for a free one)")
    finally:
        server.close()
    # An address that is not this machine's: the advice is about --host, not the port.
    res = CliRunner().invoke(main, ["review", str(pipeline), "--host", "192.0.2.1", "--no-open"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1] == (
        "Error: cannot listen on 192.0.2.1:0: Cannot assign requested address (give --host an address of this "
        "machine (127.0.0.1, or 0.0.0.0 for every network))")


@pytest.mark.slow  # albumgen review in a child process
def test_cli_serves_until_interrupted(album):
    pipeline, ctx = album
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    # As from a terminal: a test run started in the background (`make test &`) ignores
    # SIGINT, and a child would inherit that and never see Ctrl-C.
    proc = subprocess.Popen([sys.executable, "-m", "albumgen", "review", str(pipeline), "--no-open"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().strip() == f"Reviewing {ctx.album_dir}"
        line = proc.stdout.readline().strip()
        assert line.startswith("Open http://127.0.0.1:") and "/?token=" in line
        url = line.split()[1]
        assert fetch(url)[0] == 200
        assert fetch(url.split("?")[0])[0] == 403
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and out.strip() == "Stopped.", err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_prefetch_draws_every_missing_picture_in_the_background(album):
    pipeline, ctx = album
    server = ReviewServer(ctx, prefetch=True)
    try:
        deadline = time.monotonic() + 120
        cache = ctx.album_dir / pictures.CACHE
        def made():  # not the dot-named temporary files of a picture being written
            return sorted(p.name.split("-")[0] for p in cache.glob("*.png") if not p.name.startswith("."))

        while time.monotonic() < deadline and len(made()) < 6:
            time.sleep(0.2)
        assert made() == ["master"] * 2 + ["take"] * 4
    finally:
        server.close()
    # Pictures of audio the album no longer has go at the next start; the rest stay.
    stale = cache / f"take-{'0' * 64}.png"
    stale.write_bytes(b"old")
    kept = sorted(p.name for p in cache.glob("*.png") if p.name != stale.name)
    server = ReviewServer(ctx, prefetch=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stale.exists():
            time.sleep(0.2)
        assert not stale.exists()
        assert sorted(p.name for p in cache.glob("*.png")) == kept
    finally:
        server.close()


def test_loudness_picture_measures_as_bs1770_does(tmp_path):
    """The integrated loudness drawn (the dashed line) is pyloudnorm's, and a track that gets
    6 dB louder halfway shows it in the short-term curve."""
    import numpy as np
    import pyloudnorm

    sr = 44100
    t = np.arange(sr * 8) / sr
    tone = 0.1 * np.sin(2 * np.pi * 440 * t) * np.where(t < 4, 1.0, 2.0)
    audio = np.stack([tone, tone], axis=1).astype(np.float32)
    momentary, short, integrated = pictures._loudness_curves(audio, sr)
    assert integrated == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(audio.astype(np.float64)), abs=0.01)
    quiet, loud = short[pictures.PLOT_W // 4], short[pictures.PLOT_W * 6 // 8]  # 2 s and 6 s
    assert loud - quiet == pytest.approx(6.02, abs=0.05)
    assert momentary[pictures.PLOT_W // 2 - 30] == pytest.approx(quiet, abs=0.05)


def _fading(sr: int = 44100):
    """8 s of a steady tone, then a 4 s fade to silence."""
    import numpy as np

    t = np.arange(sr * 12) / sr
    gain = np.where(t < 8, 1.0, np.cos(np.clip(t - 8, 0, 4) / 4 * np.pi / 2) ** 2)
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * gain).astype(np.float32)
    return np.stack([tone, tone], axis=1), sr


def test_a_fade_out_is_drawn_falling_to_the_end(tmp_path):
    """Both curves fall through the fade to the last column: a 3 s block moved inside the
    audio at the end would hold the level of before the fade."""
    audio, sr = _fading()
    momentary, short, _ = pictures._loudness_curves(audio, sr)
    steady = short[pictures.PLOT_W // 3]
    ends = [short[int(pictures.PLOT_W * s / 12)] for s in (9, 10, 11, 11.9)]
    assert all(a > b for a, b in zip(ends, ends[1:]))  # falling all the way
    assert steady - ends[-1] > 12 and steady - momentary[-1] > 30


def test_loudness_picture_has_a_legend_and_labelled_axes(tmp_path):
    """The legend's three swatches sit above the plot; LUFS labels left of it, a time
    axis under it: pixels of the label colour where the labels go, none inside the plot's
    margins for a silent picture."""
    import io

    import numpy as np

    from albumgen.audio.io import write_wav

    audio, sr = _fading()
    write_wav(tmp_path / "fade.wav", audio, sr)
    img = np.asarray(Image.open(io.BytesIO(pictures.loudness_png(tmp_path / "fade.wav"))).convert("RGB")).astype(int)
    legend = img[:pictures.LEGEND_H]
    for colour in (pictures.MOMENTARY, pictures.SHORT, pictures.INTEGRATED):
        assert (np.abs(legend - colour).sum(axis=2) == 0).sum() >= 10, colour
    label = np.abs(img - pictures._LABEL).sum(axis=2) < 60
    assert label[pictures.LEGEND_H:pictures.LEGEND_H + pictures.LOUD_PLOT_H, :pictures.LEFT].sum() > 40  # LUFS
    axis = label[pictures.LEGEND_H + pictures.LOUD_PLOT_H:]
    assert axis.sum() > 100 and axis[:, pictures.LEFT + pictures.PLOT_W // 2:].sum() > 20  # m:ss along it
    take = np.asarray(Image.open(io.BytesIO(pictures.take_png(tmp_path / "fade.wav"))).convert("RGB")).astype(int)
    take_label = np.abs(take - pictures._LABEL).sum(axis=2) < 60
    spec_rows = slice(pictures.WAVE_H, pictures.WAVE_H + pictures.SPEC_H)
    assert take_label[spec_rows, :pictures.LEFT].sum() > 100  # the frequency labels
    assert take_label[pictures.WAVE_H + pictures.SPEC_H:].sum() > 100  # the time axis


def test_the_picked_take_is_labelled_auto_manual_or_all_rejected():
    from albumgen.artifacts import Pick
    from albumgen.review import model, pages

    def words(**kw):
        return pages.pick_words(model._pick_label(Pick(choice=3, wav="w", **kw)))

    assert words() == "take 3 (auto)"
    assert words(manual=True, all_rejected=True) == "take 3 (manual)"
    assert words(all_rejected=True) == "take 3 (all rejected)"
    assert pages.pick_words(model._pick_label(None)) == "not picked yet"
