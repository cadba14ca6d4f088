"""Any OpenAI-compatible chat server (vLLM, TGI, llama.cpp's server) over plain HTTP with `httpx`.

Messages go to `{base_url}/chat/completions` as chat messages with `stream: true`; the server applies its
own chat template. The answer arrives as server-sent events whose `choices[0].delta.content` pieces are
yielded after the same stop-string cut the local backends apply. The API key travels in the
Authorization header only and never appears in a message or a log line.

Not handled: server-specific sampling fields (llama.cpp's repeat_penalty, vLLM's repetition_penalty);
`GenerationParams.repeat_penalty` is therefore not sent, and the server's default applies.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

from ..config import GenerationParams
from ..errors import BackendError, InputError, require
from ..prompts import GEMMA_STOPS
from ..types import Message
from .base import BackendInfo, ChatBackend, StopSignal, until_stop

# The OpenAI API accepts at most 4 stop sequences; servers differ beyond that, so the rest is cut here.
MAX_SERVER_STOPS = 4


def public_url(url: str) -> str:
    """`url` without any user:password part, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url


def merge_system(messages: Sequence[Message]) -> list[Message]:
    """Fold system messages into the first user turn, as Gemma's own template does (it has no system role)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    out: list[Message] = []
    for m in messages:
        if m["role"] == "system":
            continue
        if system and m["role"] == "user":
            m = {"role": "user", "content": f"{system}\n\n{m['content'].strip()}"}
            system = ""
        out.append(m)
    if system:
        out.append({"role": "user", "content": system})
    return out


class OpenAIBackend(ChatBackend):
    """Streams chat completions from a server that speaks the OpenAI API."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_model: str = "",
        api_key: str = "",
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
        system_in_user_turn: bool = False,
    ) -> None:
        if not base_url.strip():
            raise InputError("The openai backend needs base_url, e.g. http://127.0.0.1:8000/v1.")
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"base_url {public_url(base_url)!r} is not an http(s) URL like http://127.0.0.1:8000/v1.")
        self.base_url = base_url.strip().rstrip("/")
        self.api_model = api_model
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        # Sent as-is by default. llama.cpp's built-in "gemma" chat format drops system messages, so a
        # client of such a server can fold them into the first user turn instead.
        self.system_in_user_turn = system_in_user_turn
        self._api_key = api_key
        self.client: Any = None

    def __repr__(self) -> str:  # the key stays out of tracebacks and logs
        return f"OpenAIBackend({public_url(self.base_url)!r}, api_model={self.api_model!r})"

    def _client(self) -> Any:
        if self.client is None:
            httpx = require("httpx", "httpx", "The openai backend")
            headers = {}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            self.client = httpx.Client(  # type: ignore[attr-defined]
                headers=headers,
                timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),  # type: ignore[attr-defined]
            )
        return self.client

    def _model_name(self) -> str:
        """The configured model, else the first one the server lists (llama.cpp and vLLM serve one)."""
        if not self.api_model:
            data = self._request_json("GET", "/models")
            try:
                self.api_model = str(data["data"][0]["id"])
            except (KeyError, IndexError, TypeError) as exc:
                raise BackendError(
                    f"{public_url(self.base_url)}/models lists no model; set api_model to the name the server expects."
                ) from exc
        return self.api_model

    def _request_json(self, method: str, path: str) -> Any:
        import httpx

        url = self.base_url + path
        try:
            response = self._client().request(method, url)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from exc
        if response.status_code >= 400:
            raise self._status_error(response.status_code, response.text, url)
        try:
            return response.json()
        except ValueError as exc:
            raise BackendError(f"{public_url(url)} did not answer with JSON.") from exc

    def stream(
        self, messages: Sequence[Message], params: GenerationParams, stop: StopSignal | None = None
    ) -> Iterator[str]:
        import httpx

        stops = list(GEMMA_STOPS) + [s for s in params.stop if s]
        body: dict[str, Any] = {
            "model": self._model_name(),
            "messages": merge_system(messages) if self.system_in_user_turn else [dict(m) for m in messages],
            "stream": True,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "seed": params.seed,
        }
        if params.stop:
            body["stop"] = list(params.stop)[:MAX_SERVER_STOPS]
        url = self.base_url + "/chat/completions"
        try:
            with self._client().stream("POST", url, json=body, headers={"Accept": "text/event-stream"}) as response:
                if response.status_code >= 400:
                    raise self._status_error(response.status_code, response.read().decode("utf-8", "replace"), url)
                # Leaving the block early (stop signal, stop string) closes the response: the server stops too.
                yield from until_stop(_sse_deltas(response.iter_lines(), url), stops, stop)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from exc

    def _transport_error(self, exc: Exception, url: str) -> BackendError:
        import httpx

        shown = public_url(url)
        if isinstance(exc, httpx.TimeoutException):
            return BackendError(f"The server at {shown} did not answer in time ({type(exc).__name__}).")
        if isinstance(exc, httpx.ConnectError):
            return BackendError(f"Could not connect to {shown}: is the server running and base_url right?")
        return BackendError(f"The connection to {shown} failed: {type(exc).__name__}.")

    def _status_error(self, status: int, body: str, url: str) -> BackendError:
        detail = body.strip()
        try:
            parsed = json.loads(detail)
            err = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
            detail = str(err.get("message", err) if isinstance(err, dict) else err)
        except ValueError:
            pass
        if self._api_key:
            detail = detail.replace(self._api_key, "***")
        detail = detail[:300]
        hint = {401: " Check api_key.", 403: " Check api_key.",
                404: " Check base_url (it usually ends in /v1) and api_model."}.get(status, "")
        return BackendError(f"{public_url(url)} answered HTTP {status}: {detail}.{hint}")

    def info(self) -> BackendInfo:
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return BackendInfo(backend=self.name, model=self.api_model or "(server default)", device=host)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def _sse_deltas(lines: Iterator[str], url: str) -> Iterator[str]:
    """Text deltas from the `data:` lines of an OpenAI chat-completions event stream."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments (":"), event names
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise BackendError(f"{public_url(url)} sent an event that is not JSON: {data[:100]!r}") from exc
        if not isinstance(event, dict):
            continue
        if "error" in event:
            err = event["error"]
            message = err.get("message", err) if isinstance(err, dict) else err
            raise BackendError(f"{public_url(url)} reported an error: {message}")
        choices = event.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            continue  # e.g. a final usage-only chunk
        content = (choices[0].get("delta") or {}).get("content")
        if content:
            yield content
