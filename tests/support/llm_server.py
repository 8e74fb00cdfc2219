"""A real OpenAI-compatible HTTP server on loopback for the prompts tests.

It answers POST /v1/chat/completions from a per-test script of replies (content, status
codes, delays, headers) and records every request, so tests can assert what was sent
(the key in the Authorization header) and how many calls a build made (zero on resume).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is (a broken server)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_at: int | None = None  # send only this many bytes of the body, then close (a dropped connection)
    trickle: float = 0.0  # seconds between 64-byte pieces of the body (a server that never quite finishes)
    no_length: bool = False  # no Content-Length: the body ends when the connection closes


def chat(content: str, prompt_tokens: int = 50, completion_tokens: int = 120, delay: float = 0.0) -> Scripted:
    """A chat completion whose message is `content`."""
    body = {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
    return Scripted(200, body, delay=delay)


def error(status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None) -> Scripted:
    return Scripted(status, {"error": {"message": message, "type": "test_error", "code": code}}, headers or {})


def tracklist_json(tracks: list[tuple[str, str]], album: str = "Neon Nights") -> str:
    return json.dumps({"album_title": album, "tracks": [{"title": t, "prompt": p} for t, p in tracks]})


class LLMServer:
    def __init__(self, script: list[Scripted] | None = None, reject_schema: bool = False):
        self.script: list[Scripted] = list(script or [])
        self.reject_schema = reject_schema  # answer 400 to response_format, as many local servers do
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def add(self, *replies: Scripted) -> None:
        with self._lock:
            self.script.extend(replies)

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, request: dict) -> Scripted:
        with self._lock:
            self.requests.append(request)
            if self.reject_schema and "response_format" in request["body"]:
                return error(400, "response_format json_schema is not supported by this server")
            if not self.script:
                return error(500, "the test script has no more replies")
            return self.script.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"unparsed": raw.decode("utf-8", "replace")}
                reply = server._next({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                      "t": time.monotonic()})
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body or {})
                payload = data.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    if reply.no_length:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if reply.cut_at is not None:
                        self.wfile.write(payload[:reply.cut_at])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if reply.trickle:
                        for i in range(0, len(payload), 64):
                            self.wfile.write(payload[i:i + 64])
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                        return
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to tell it

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

        return Handler
