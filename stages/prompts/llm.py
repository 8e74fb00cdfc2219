"""The LLM behind `source: llm` and `rewrite: true`: the openai client against any
OpenAI-compatible server, with our own retries so Retry-After is honoured and every
failure ends in one LLMError that names the server and model, never the key.
"""
from __future__ import annotations

import email.utils
import importlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from albumgen.engine import interrupt
from albumgen.errors import LLMError
from albumgen.sizes import MB, counted, human_size

from .config import LLMConfig

if TYPE_CHECKING:
    import openai


def _openai():
    """The openai package, imported at the first request: it takes most of a second to import
    (its types), and `albumgen --help`, `status` or a build from a prompts file never need it."""
    import openai

    return openai

MAX_WAIT = 120.0  # a Retry-After beyond this is a server asking us to go away, not to wait
# A reply of 300 candidates is about 100 kB; a server sending more than this is broken or
# hostile, and holding its reply (and parsing it, and storing it) would cost memory and time.
MAX_REPLY_BYTES = 2 * MB
NO_KEY = "no-key"  # local servers (Ollama, llama.cpp) ignore the key but the client wants one

SYSTEM = ("You write text prompts for MusicGen, a model that turns a short description into instrumental "
          "music. MusicGen cannot sing, speak, write lyrics or make images or videos, so never ask for those. "
          "A good prompt names the genre, the instruments, the mood and the structure, and always an explicit "
          "tempo and key written like '96 bpm, in A minor', which the picker checks every take against.")

TRACKLIST_SCHEMA = {
    "type": "object",
    "properties": {
        "album_title": {"type": "string"},
        "tracks": {"type": "array", "items": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "prompt": {"type": "string"}},
            "required": ["title", "prompt"], "additionalProperties": False}},
    },
    "required": ["album_title", "tracks"], "additionalProperties": False,
}
REWRITE_SCHEMA = {
    "type": "object",
    "properties": {"prompts": {"type": "array", "items": {"type": "string"}}},
    "required": ["prompts"], "additionalProperties": False,
}
SONGS_SYSTEM = ("You write for ACE-Step, a model that turns a short description and lyrics into whole songs "
                "with vocals. A good prompt names the genre, the instruments, the voice, the mood and always an "
                "explicit tempo and key written like '96 bpm, in A minor'. It cannot make images or videos.")
LYRICS_SCHEMA = {
    "type": "object",
    "properties": {"lyrics": {"type": "array", "items": {"type": "string"}}},
    "required": ["lyrics"], "additionalProperties": False,
}
NAMES_SCHEMA = {
    "type": "object",
    "properties": {"album_title": {"type": "string"}, "titles": {"type": "array", "items": {"type": "string"}}},
    "required": ["album_title", "titles"], "additionalProperties": False,
}


@dataclass
class Reply:
    content: str
    structured: bool
    usage: dict[str, int]
    finish_reason: str | None
    seconds: float

    def record(self) -> dict[str, Any]:
        return {"content": self.content, "structured": self.structured, "usage": self.usage,
                "finish_reason": self.finish_reason, "seconds": round(self.seconds, 3)}


class UnusableReplies(LLMError):
    """The server answered, every time, with nothing the request could use."""


class _Transient(Exception):
    """A failure worth another attempt (429, 5xx, timeout, refused connection)."""

    def __init__(self, final: LLMError, wait: float | None = None):
        super().__init__(final.what)
        self.final = final
        self.wait = wait


class _TooLarge(Exception):
    pass


class _PastDeadline(Exception):
    pass


def _bounded_http_client(deadline: Callable[[], float]):
    """The openai client's own HTTP client, with every response body (errors included) read
    through a counter: more than MAX_REPLY_BYTES, or still arriving at the deadline (a
    server trickling bytes never trips a per-read timeout), and the read stops."""
    base = _openai().DefaultHttpxClient
    # httpx for openai 1.x, httpx2 since 3.x: the byte-stream class must be that library's.
    http = importlib.import_module(base.__mro__[1].__module__.split(".")[0])

    class Counted(http.SyncByteStream):
        def __init__(self, inner):
            self.inner = inner

        def __iter__(self):
            total = 0
            for chunk in self.inner:
                total += len(chunk)
                if total > MAX_REPLY_BYTES:
                    raise _TooLarge()
                if time.monotonic() > deadline():
                    raise _PastDeadline("the reply was still arriving")
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class Bounded(base):
        def send(self, request, *, stream: bool = False, **kwargs):
            resp = super().send(request, stream=True, **kwargs)
            size = resp.headers.get("content-length", "")
            if size.isdigit() and int(size) > MAX_REPLY_BYTES:
                resp.close()
                raise _TooLarge()
            resp.stream = Counted(resp.stream)
            if not stream:
                try:
                    resp.read()
                except BaseException:
                    resp.close()
                    raise
            return resp

    return Bounded()


OPENAI_HOST = "api.openai.com"


def check_api_key(cfg: LLMConfig) -> None:
    """OpenAI's own endpoint answers 401 to a request without a key, after the album folder
    is made: say which variable to set before anything runs. A local server (Ollama,
    llama.cpp, vLLM) takes none."""
    from urllib.parse import urlsplit

    if urlsplit(cfg.base_url).hostname == OPENAI_HOST and not os.environ.get(cfg.api_key_env):
        raise LLMError(f"prompts.llm: {cfg.api_key_env} is not set, and {cfg.base_url} needs an API key",
                       f"export {cfg.api_key_env}=<your key>, or point prompts.llm.base_url at a local server "
                       "such as Ollama (http://localhost:11434/v1)")


class LLM:
    def __init__(self, cfg: LLMConfig, album_seed: int, log: logging.Logger):
        self.cfg = cfg
        self.seed = cfg.effective_seed(album_seed)
        self.log = log
        self.structured = cfg.structured
        self.base_url = cfg.base_url.rstrip("/")
        # Read at call time and held only here: it never reaches a record, a file or a log.
        self._key = os.environ.get(cfg.api_key_env) or NO_KEY
        self._deadline = float("inf")  # set per ask(): every attempt and wait of one request
        self._client = _openai().OpenAI(api_key=self._key, base_url=self.base_url, timeout=cfg.timeout, max_retries=0,
                                     http_client=_bounded_http_client(lambda: self._deadline))
        self.calls = 0

    @property
    def where(self) -> str:
        return f"LLM server {self.base_url} (model {self.cfg.model})"

    def ask(self, user: str, schema_name: str, schema: dict,
            accept: Callable[[str], tuple[Any, bool]], system: str = SYSTEM) -> tuple[Any, list[dict]]:
        """Ask until `accept(reply)` says the result is good; returns the best result and every
        reply (for the manifest). A reply that parses but falls short is kept as a fallback."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        replies: list[dict] = []
        best, attempt, last, failure = None, 0, "", "no reply"
        self._deadline = time.monotonic() + self.cfg.deadline
        while attempt < self.cfg.max_attempts:
            attempt += 1
            remaining = self._deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise _PastDeadline(failure)
                with interrupt.immediate():  # nothing is written while we wait: Ctrl-C leaves at once
                    reply = self._create(messages, schema_name, schema, min(self.cfg.timeout, remaining))
            except _Transient as t:
                failure = t.final.what
                if attempt >= self.cfg.max_attempts:
                    raise LLMError(f"{t.final.what} after {counted(attempt, 'attempt')}", t.final.fix) from None
                wait = min(MAX_WAIT, t.wait if t.wait is not None else self.cfg.backoff * 2 ** (attempt - 1))
                if time.monotonic() + wait >= self._deadline:
                    raise self._past_deadline(attempt, t.final.what) from None
                self.log.warning("prompts: %s; retrying in %.2g s (attempt %d of %d)", t.final.what, wait, attempt + 1,
                                 self.cfg.max_attempts)
                with interrupt.immediate():
                    time.sleep(wait)
                continue
            except _PastDeadline as e:
                if best is not None:  # as when the attempts run out: the best reply so far
                    return best, replies
                raise self._past_deadline(attempt, str(e)) from None
            except _SchemaRefused:
                attempt -= 1  # the server's limitation, not a failed try
                continue
            replies.append(reply.record())
            last = reply.content
            result, good = accept(reply.content)
            if good:
                return result, replies
            if result is not None:
                best = result
            failure = "a reply that was not usable"
            self.log.warning("prompts: %s: reply %d was not usable, asking again", self.where, attempt)
        if best is not None:
            return best, replies
        excerpt = " ".join(last.split())[:60]
        raise UnusableReplies(f"{self.where} never gave a reply that parses ({counted(attempt, 'attempt')}; "
                              f"last began {excerpt!r})",
                              "try another model or raise prompts.llm.max_attempts; replies must list prompts")

    def _past_deadline(self, attempts: int, last: str) -> LLMError:
        return LLMError(f"{self.where} gave no usable reply within prompts.llm.deadline ({self.cfg.deadline:g} s, "
                        f"{attempts} attempt{'s' if attempts > 1 else ''}; last: {last})",
                        "try again later, or raise prompts.llm.deadline")

    def _create(self, messages: list[dict], schema_name: str, schema: dict, timeout: float) -> Reply:
        kwargs: dict[str, Any] = {"model": self.cfg.model, "messages": messages,
                                  "temperature": self.cfg.temperature, "seed": self.seed, "timeout": timeout}
        if self.structured:
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": schema_name, "strict": True, "schema": schema}}
        t0 = time.monotonic()
        self.calls += 1
        try:
            resp = self._client.chat.completions.create(**kwargs)
        except _TooLarge:
            raise LLMError(f"{self.where} sent a reply of more than {human_size(MAX_REPLY_BYTES)}",
                           "ask for fewer prompts (prompts.llm.candidates) or check the server") from None
        except (_openai().BadRequestError, _openai().UnprocessableEntityError) as e:
            if self.structured:
                # Many local servers know no json_schema; the text parser copes with prose.
                self.log.info("prompts: %s refused structured output (%s); asking for plain text", self.where,
                              self._scrub(_message(e)))
                self.structured = False
                raise _SchemaRefused() from None
            raise LLMError(f"{self.where} rejected the request (HTTP {e.status_code}: {self._scrub(_message(e))})",
                           "check prompts.llm settings") from None
        except (_openai().AuthenticationError, _openai().PermissionDeniedError) as e:
            raise LLMError(f"{self.where} refused the API key (HTTP {e.status_code})",
                           f"put a valid key in the environment variable {self.cfg.api_key_env}") from None
        except _openai().NotFoundError as e:
            raise LLMError(f"{self.where} answered 404 ({self._scrub(_message(e))})",
                           "check prompts.llm.model is a model the server has and prompts.llm.base_url "
                           "(usually ending in /v1)") from None
        except _openai().APIStatusError as e:
            if e.status_code == 429 or e.status_code >= 500:
                raise _Transient(LLMError(f"{self.where} answered HTTP {e.status_code}",
                                          "try again later or raise prompts.llm.max_attempts"),
                                 retry_after(e.response.headers)) from None
            raise LLMError(f"{self.where} answered HTTP {e.status_code} ({self._scrub(_message(e))})",
                           "check prompts.llm settings") from None
        except _openai().APITimeoutError:
            if time.monotonic() >= self._deadline - 0.01:
                raise _PastDeadline("no answer") from None
            raise _Transient(LLMError(f"{self.where} did not answer within {self.cfg.timeout:g} s",
                                      "raise prompts.llm.timeout or use a faster model")) from None
        except _openai().APIConnectionError as e:
            if "RemoteProtocolError" in type(e.__cause__).__name__:  # a reply cut off mid-body
                raise _Transient(LLMError(f"{self.where} closed the connection in the middle of a reply",
                                          "check the server's logs; try again later")) from None
            raise _Transient(LLMError(f"cannot reach {self.where}: connection failed",
                                      "start the server or fix prompts.llm.base_url")) from None
        except (_openai().APIError, ValueError):  # a 200 that is not a chat completion (an HTML page...)
            raise _Transient(LLMError(f"{self.where} sent a reply that is not an OpenAI chat completion",
                                      "check prompts.llm.base_url points at an OpenAI-compatible API")) from None
        if not getattr(resp, "choices", None):
            raise _Transient(LLMError(f"{self.where} sent a reply with no choices", "check the server"))
        choice = resp.choices[0]
        usage = getattr(resp, "usage", None)
        tokens = {k: int(getattr(usage, k, 0) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        return Reply(content=_text(getattr(choice.message, "content", None)), structured=self.structured, usage=tokens,
                     finish_reason=choice.finish_reason, seconds=time.monotonic() - t0)

    def _scrub(self, text: str) -> str:
        # Servers echo keys back ("Incorrect API key provided: sk-..."): never pass one on.
        if self._key != NO_KEY:
            text = text.replace(self._key, "***")
        return " ".join(text.split())[:200]


def _text(content: Any) -> str:
    """A message's text. The client does not check it: some servers send the content-parts
    form ([{"type": "text", "text": ...}]), a broken one a number or an object. Parts are
    joined; anything else reads as an empty reply, which is not usable and asked again."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") if isinstance(p, dict) else getattr(p, "text", None) for p in content]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


class _SchemaRefused(Exception):
    pass


def _message(e: openai.APIStatusError) -> str:
    body = e.body if isinstance(e.body, dict) else {}
    err = body.get("error", body)
    msg = err.get("message") if isinstance(err, dict) else None
    return str(msg or e.message or "")


def retry_after(headers: Any) -> float | None:
    """Seconds a server asked us to wait: Retry-After as seconds or an HTTP date, or -ms."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def usage_total(replies: list[dict]) -> dict[str, int]:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {k: sum(r.get("usage", {}).get(k, 0) for r in replies) for k in keys}
