"""The review server: the standard library's ThreadingHTTPServer on loopback.

Why not a framework: a handful of routes and one user; the HTML comes from Jinja2 templates
(pages.py), and every security rule is a few explicit lines here that a test can hit (the token on every
request, files only from inside the album folder, actions validated before anything is
written). Threads let the browser fetch a dozen pictures at once while one is being drawn.

Security: a random token per start, required on every request (query `token=` or header
`X-Albumgen-Token`; missing or wrong: 403); loopback by default; a strict CSP, so even a
text that escaped escaping could not run a script.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import AlbumgenError
from ..stage import Context
from . import actions, model, pages, pictures
from .urls import LiveUrls

log = logging.getLogger("albumgen")

MAX_BODY = 64 * 1024
TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg",
         ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".json": "application/json",
         ".m3u8": "audio/x-mpegurl", ".jsonl": "text/plain; charset=utf-8", ".txt": "text/plain; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
TAKE_PICTURE = re.compile(r"/picture/take/(t\d+)/take-(\d+)\.png")
MASTER_PICTURE = re.compile(r"/picture/master/(t\d+)\.png")


class NotFound(Exception):
    pass


def inside_album(album_dir: Path, rel: str) -> Path | None:
    """The file `rel` names if it lies inside the album folder once every `..` and symlink
    is resolved; None for anything else (absolute paths, traversal, links out, folders)."""
    if not rel or "\x00" in rel or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        return None
    root = Path(album_dir).resolve()
    try:
        path = (root / rel).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A browser closes kept-alive connections and aborts media requests when it seeks:
        # not worth a traceback on the terminal that shows the page's address.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            log.debug("review: request from %s failed", client_address, exc_info=True)


class ReviewServer:
    def __init__(self, ctx: Context, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 prefetch: bool = False, pipeline: Path | str | None = None):
        self.ctx = ctx
        # The command that applies a person's choices, shown beside them: the pipeline as
        # the person named it to `albumgen review`.
        self.build_command = f"albumgen build {pipeline or 'PIPELINE.yaml'}"
        self.token = token or secrets.token_urlsafe(24)
        self.httpd = _Server((host, port), Handler)
        self.httpd.review = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        # Draw the pictures that are missing while the person reads the first page, at a
        # low priority (a build may be running); requests draw what they need meanwhile.
        threading.Thread(target=self._prefetch, args=(prefetch,), daemon=True).start()

    def _prefetch(self, everything: bool) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only, on Linux
        except (AttributeError, OSError):
            pass
        pictures.warm_imports()
        if not everything:
            return
        try:
            ctx = model.fresh(self.ctx)
            sources = model.picture_sources(ctx)
            pictures.prune(ctx.album_dir, [(kind, sha) for kind, _, sha in sources])
            for kind, rel, sha in sources:
                if self._closing.is_set():
                    return
                pictures.cached_picture(ctx.album_dir, kind, rel, sha)
        except Exception:  # noqa: BLE001 - a request draws it again and reports what fails
            log.debug("review: drawing pictures ahead failed", exc_info=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/?token={self.token}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.25)

    def start(self) -> ReviewServer:
        """Serve from a background thread (tests, benchmarks)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the page's pictures share connections
    server_version = "albumgen-review"

    @property
    def review(self) -> ReviewServer:
        return self.server.review  # type: ignore[attr-defined]

    def log_message(self, fmt: str, *args) -> None:  # the terminal is for the URL, not a log
        log.debug("review: %s", fmt % args)

    # -- plumbing ------------------------------------------------------------------------
    def _authorised(self, query: dict) -> bool:
        given = self.headers.get("X-Albumgen-Token") or (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self.review.token.encode())

    def _headers(self, status: int, ctype: str, length: int, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status: int, body: bytes | str, ctype: str = "text/plain; charset=utf-8",
              extra: dict | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._headers(status, ctype, len(data), extra)
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, obj: dict) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False), "application/json; charset=utf-8")

    def _split(self) -> tuple[str, dict]:
        parts = urlsplit(self.path)
        return unquote(parts.path), parse_qs(parts.query)

    # -- GET -----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path, query = self._split()
        if not self._authorised(query):
            self._send(403, "403 forbidden: this page needs the token printed by `albumgen review`\n")
            return
        try:
            self._route_get(path, query)
        except NotFound as e:
            self._send(404, f"404 not found: {e}\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser dropped a request it no longer needed (seeking audio)
        except AlbumgenError as e:
            self._send(500, f"Error: {e}\n")

    do_HEAD = do_GET

    def _route_get(self, path: str, query: dict) -> None:
        ctx = model.fresh(self.review.ctx)
        if path in ("/", "/index.html"):
            return self._page(ctx, "album")
        if path.startswith("/track/"):
            return self._page(ctx, "track:" + path[len("/track/"):])
        if path == "/api/poll":
            return self._poll(ctx, (query.get("view") or ["album"])[0], (query.get("since") or [""])[0])
        if path.startswith("/files/"):
            return self._file(inside_album(ctx.album_dir, path[len("/files/"):]), path)
        if path.startswith("/static/") and path[len("/static/"):] in ("review.css", "review.js", "play.js"):
            name = path[len("/static/"):]
            return self._send(200, pages.asset(name), TYPES[Path(name).suffix])
        if path.startswith("/picture/"):
            return self._picture(ctx, path)
        raise NotFound(path)

    def _view(self, ctx: Context, view: str) -> tuple[str, str]:
        """(title, main html) of 'album' or 'track:<id>'."""
        urls = LiveUrls(self.review.token)
        command = self.review.build_command
        if view == "album":
            album = model.album(ctx)
            return album["title"], pages.album_main(album, urls, command)
        if view.startswith("track:"):
            tid = view[len("track:"):]
            track = model.find_track(ctx, tid)
            if track is None:
                raise NotFound(f"no track {tid!r} in this album")
            return track["title"], pages.track_main(model.track(ctx, track), urls, pages.nav_html(urls), command)
        raise NotFound(f"no view {view!r}")

    def _page(self, ctx: Context, view: str) -> None:
        version = self._version(ctx)
        title, main = self._view(ctx, view)
        progress = pages.progress_html(model.progress(ctx))
        html = pages.document(title, view, main, progress, LiveUrls(self.review.token), version)
        self._send(200, html, "text/html; charset=utf-8")

    def _version(self, ctx: Context) -> str:
        # The build's pid is part of it: a killed build changes no file, but the page must
        # stop saying that one runs.
        return f"{model.version(ctx)}/{model.running_build(ctx.album_dir) or ''}"

    def _poll(self, ctx: Context, view: str, since: str) -> None:
        version = self._version(ctx)
        if since == version:
            return self._json(200, {"version": version})
        title, main = self._view(ctx, view)
        self._json(200, {"version": version, "main": str(main), "progress": str(pages.progress_html(model.progress(ctx)))})

    def _file(self, path: Path | None, asked: str) -> None:
        if path is None:
            raise NotFound(asked)
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        extra = {"Accept-Ranges": "bytes", "Cache-Control": "no-cache"}
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", (self.headers.get("Range") or "").strip())
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # the last N bytes
                start = max(0, size - int(m.group(2)))
            if start > end or start >= size:
                return self._send(416, b"", extra={"Content-Range": f"bytes */{size}"})
            status = 206
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        ctype = TYPES.get(path.suffix.lower(), "application/octet-stream")
        self._headers(status, ctype, end - start + 1, extra)
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 16))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def _picture(self, ctx: Context, path: str) -> None:
        if m := TAKE_PICTURE.fullmatch(path):
            take = ctx.artifacts.take(m.group(1), int(m.group(2)))
            kind, found = "take", (take.wav, take.wav_sha256) if take and take.wav else None
        elif m := MASTER_PICTURE.fullmatch(path):
            kind, found = "master", (model.master_file(ctx, m.group(1)) or (None, None))[:2]
        else:
            raise NotFound(path)
        if not found or not found[0] or inside_album(ctx.album_dir, found[0]) is None:
            raise NotFound(path)
        png = pictures.cached_picture(ctx.album_dir, kind, found[0], found[1])
        # The URL carries the audio's hash, so a cached copy can never be stale.
        self._send(200, png.read_bytes(), "image/png", {"Cache-Control": "private, max-age=31536000, immutable"})

    # -- POST ----------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802
        path, query = self._split()
        if not self._authorised(query):
            self._discard_body()
            self._send(403, "403 forbidden: this page needs the token printed by `albumgen review`\n")
            return
        if path != "/api/action":
            self._discard_body()
            return self._json(404, {"error": f"no action endpoint {path}"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True
            return self._json(400, {"error": f"the body must be JSON of 1 to {MAX_BODY} bytes"})
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return self._json(400, {"error": "the body is not valid JSON"})
        ctx = model.fresh(self.review.ctx)
        try:
            message = actions.apply(ctx, body)
        except actions.ActionRefused as e:
            return self._json(e.status, {"error": e.message})
        log.info("review: %s", message)
        self._json(200, {"message": message})

    def _discard_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)
        else:
            self.close_connection = True

