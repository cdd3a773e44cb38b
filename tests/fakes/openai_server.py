"""A local server speaking OpenAI chat completions with structured output, scripted per test.

    with openai_server() as fake:
        fake.script(fake.rate_limited(), fake.answer({...}))
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)

Every request is recorded (`fake.requests`). Unscripted requests get `fake.default` (by default: 500).
The server checks what a structured-output request must carry: a model, messages, and a `json_schema`
response format; a request without them is answered 400 as the real API would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.threaded import serving

API_KEY = "sk-test-chartwise"


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: a status and a JSON body, optionally after a delay (to provoke timeouts)."""

    status: int
    body: dict[str, Any]
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[dict[str, Any]], Scripted]


def _error(status: int, message: str, kind: str, code: str | None = None) -> Scripted:
    return Scripted(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


class FakeOpenAI:
    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.default: Responder = lambda _body: _error(500, "nothing scripted", "server_error")
        self._script: list[Scripted | Responder] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._release: asyncio.Event | None = None

    # -- scripting ---------------------------------------------------------------------------------

    def script(self, *answers: Scripted | Responder) -> None:
        """Queues answers for the next requests, in order; then `default` answers."""
        with self._lock:
            self._script.extend(answers)

    def answer(
        self, parsed: dict[str, Any], *, model: str = "gpt-4o-2024-08-06", tokens: tuple[int, int] = (1200, 300)
    ) -> Scripted:
        """A successful structured answer whose content is `parsed` as JSON."""
        return self.completion(json.dumps(parsed), model=model, tokens=tokens)

    def completion(
        self,
        content: str | None,
        *,
        model: str = "gpt-4o-2024-08-06",
        tokens: tuple[int, int] = (1200, 300),
        refusal: str | None = None,
        finish_reason: str = "stop",
    ) -> Scripted:
        prompt, completion = tokens
        return Scripted(
            200,
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": refusal},
                        "finish_reason": finish_reason,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
        )

    def malformed(self, content: str = '{"is_chart": "perhaps"') -> Scripted:
        """A 200 whose content is not valid for the requested schema."""
        return self.completion(content)

    def rate_limited(self) -> Scripted:
        return Scripted(
            429,
            {
                "error": {
                    "message": "Rate limit reached",
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
            headers={"retry-after-ms": "10"},
        )

    def stalled(self, seconds: float = 30.0) -> Scripted:
        """An answer that comes only after `seconds` (or when the server stops): the client times out first."""
        return Scripted(200, self.completion("{}").body, delay_s=seconds)

    def server_error(self) -> Scripted:
        return _error(500, "The server had an error", "server_error")

    # -- inspection --------------------------------------------------------------------------------

    def images_of(self, request: dict[str, Any]) -> list[str]:
        """The image URLs of a recorded request's user message."""
        urls: list[str] = []
        for message in request["messages"]:
            content = message.get("content")
            if isinstance(content, list):
                urls += [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
        return urls

    def texts_of(self, request: dict[str, Any]) -> str:
        parts: list[str] = []
        for message in request["messages"]:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts += [part["text"] for part in content if part.get("type") == "text"]
        return "\n".join(parts)

    # -- serving -----------------------------------------------------------------------------------

    def _next(self) -> Scripted | Responder:
        with self._lock:
            return self._script.pop(0) if self._script else self.default

    async def _chat(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse(_error(401, "Incorrect API key provided", "invalid_request_error").body, 401)
        body = await request.json()
        fmt = body.get("response_format") or {}
        if not body.get("model") or not body.get("messages") or fmt.get("type") != "json_schema":
            return JSONResponse(_error(400, "structured output request expected", "invalid_request_error").body, 400)
        with self._lock:
            self.requests.append(body)
        planned = self._next()
        scripted = planned(body) if callable(planned) else planned
        if scripted.delay_s:
            if self._release is None:
                self._release = asyncio.Event()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=scripted.delay_s)
        return JSONResponse(scripted.body, scripted.status, headers=scripted.headers)

    def _stop(self) -> None:
        if self._release is not None:
            self._release.set()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])


@contextmanager
def openai_server() -> Iterator[FakeOpenAI]:
    """A running fake; its `base_url` ends in /v1, ready for `AsyncOpenAI(base_url=...)`."""
    fake = FakeOpenAI()
    with serving(fake.app(), on_stop=fake._stop) as url:
        fake.base_url = f"{url}/v1"
        yield fake
