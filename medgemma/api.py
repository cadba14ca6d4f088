"""The HTTP API: health, and OpenAI-compatible chat completions answered from the sources with citations.

Routes (see docs/api.md): `GET /health`, `GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/embeddings`
(OpenAI's shape: the embedder's vectors) and `POST /v1/search` (passages from a named index). The last two
check and bound their input in `medgemma.tools`, which the MCP tools share.

Every answer goes through `Assistant.stream()`, so the safety rules, the fixed instruction and the answer
check are the same as in the UI; system messages from the client are ignored. Replies carry three fields
OpenAI's format lacks: `citations` (every passage the model read, numbered as in the text), `safety` (the
question's verdict) and `flags` (what the answer check changed).

Streaming is honest about the answer check: the final text may differ from what was streamed (the
disclaimer is appended, an invalid citation number removed, a redirect to a clinician put first). When the
final text extends the streamed text, the last chunk's delta is the rest of it. Otherwise the last chunk
has `"replace": true` and its delta carries the whole final text, which replaces what came before; a client
that ignores `replace` still receives the checked text, after the unchecked one.

Errors use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`; an error after a stream has
started arrives as one such event before `data: [DONE]`. Nothing here imports Gradio.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from contextlib import ExitStack
from dataclasses import replace
from typing import Annotated, Any, Callable, Iterator, Literal, TypeVar

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .access import Access, Busy, RateLimited, address_key, client_address
from . import tools
from .assistant import Assistant, Partial
from .backends.base import StopSignal
from .config import GenerationParams
from .errors import InputError, MedGemmaError
from .runtime import Runtime
from .safety.messages import region_of
from .types import Message, Reply

MODEL_ID = "medgemma-studio"
MAX_BODY_BYTES = 256 * 1024
MAX_MESSAGES = 100
DISCONNECT_POLL_S = 0.5

log = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


# --- request ------------------------------------------------------------------------------------------------
class ChatMessage(BaseModel):
    """One turn. `content` is checked by hand so a wrong shape gets a message naming the turn."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Any = None


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat-completions request that are read; the others are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: StrictStr | None = None
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool | None = False
    max_tokens: StrictInt | None = Field(None, ge=1, le=8192)
    max_completion_tokens: StrictInt | None = Field(None, ge=1, le=8192)
    temperature: Annotated[float, Field(strict=True, ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(strict=True, gt=0.0, le=1.0)] | None = None
    seed: StrictInt | None = None
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=4)] | None = None
    n: Annotated[int, Field(strict=True, ge=1, le=1)] | None = None
    k: StrictInt | None = Field(None, ge=0, le=tools.MAX_K, description=f"Passages to retrieve (0-{tools.MAX_K}).")
    rag: StrictBool | None = Field(True, description="false: answer without retrieved sources.")


class EmbeddingsRequest(BaseModel):
    """The fields of an OpenAI embeddings request that are read. `input` is checked by `tools.check_texts`."""

    model_config = ConfigDict(extra="ignore")

    input: Any = None
    model: StrictStr | None = None
    encoding_format: Literal["float", "base64"] | None = "float"
    dimensions: StrictInt | None = None


class SearchRequest(BaseModel):
    """A search: the query, how many passages (default: the app's k) and which index (default: the answering one)."""

    model_config = ConfigDict(extra="ignore")

    query: Any = None
    k: StrictInt | None = Field(None, ge=1, le=tools.MAX_K, description=f"Passages to return (1-{tools.MAX_K}).")
    index: StrictStr | None = None


class ApiError(Exception):
    """An error answered in OpenAI's error shape."""

    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error",
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind, self.param = status, message, code, kind, param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


# --- JSON shapes --------------------------------------------------------------------------------------------
def citations_json(reply: Reply) -> list[dict[str, Any]]:
    """Every passage the answer read, numbered as the text cites it, and whether the text cites it."""
    return [
        {"n": n, "id": p.id, "title": p.title, "source": p.source, "url": p.url, "score": p.score,
         "text": p.text, "cited": n in reply.cited}
        for n, p in enumerate(reply.passages, 1)
    ]


def reply_extras(reply: Reply) -> dict[str, Any]:
    """The fields added to OpenAI's format: citations, the safety verdict, the answer check's flags and what
    backs each generated sentence (`support`: the sentence, the passages that say it, kept or removed)."""
    return {
        "citations": citations_json(reply),
        "safety": {"action": reply.verdict.action, "category": reply.verdict.category},
        "flags": list(reply.flags),
        "support": [s.to_dict() for s in reply.support],
    }


def completion_json(reply: Reply, cid: str, created: int) -> dict[str, Any]:
    """A finished reply as a `chat.completion` object."""
    return {
        "id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                     "finish_reason": "stop"}],
        **reply_extras(reply),
    }


def _chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None,
           **extra: Any) -> str:
    data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream_events(items: Iterator[Partial | Reply], cid: str, created: int) -> Iterator[str]:
    """Server-sent events for an answer: growing deltas, then the checked rest (or a replacement)."""
    yield _chunk(cid, created, {"role": "assistant", "content": ""})
    sent = ""
    try:
        for item in items:
            if isinstance(item, Partial):
                # Snapshots are cumulative; one that does not extend what was sent waits for the final reply.
                if item.text.startswith(sent) and len(item.text) > len(sent):
                    yield _chunk(cid, created, {"content": item.text[len(sent):]})
                    sent = item.text
                continue
            extras = reply_extras(item)
            if item.text.startswith(sent):
                rest = item.text[len(sent):]
                yield _chunk(cid, created, {"content": rest} if rest else {}, "stop", **extras)
            else:
                yield _chunk(cid, created, {"content": item.text}, "stop", replace=True, **extras)
    except MedGemmaError as exc:
        yield f"data: {json.dumps(_failure(exc).body(), ensure_ascii=False)}\n\n"
    except Exception:  # noqa: BLE001 - a stream cannot change its status any more; never show a traceback
        log.exception("chat completion stream failed")
        yield f"data: {json.dumps(_internal().body())}\n\n"
    yield "data: [DONE]\n\n"


# --- request checks -----------------------------------------------------------------------------------------
async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, or ApiError 413 as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, "The Content-Length header is not a number.", "invalid_header")
        if int(declared) > limit:
            raise _too_large(limit)
    body = bytearray()
    async for piece in request.stream():  # counted as it arrives: Content-Length may be missing or wrong
        body += piece
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def parse_request(body: bytes, model: type[M] = ChatRequest, needs: str = "messages") -> M:  # type: ignore[assignment]
    """The request, or ApiError 400 with a message naming the first problems."""
    if not body.strip():
        raise ApiError(400, f"The request body is empty: send a JSON object with `{needs}`.", "invalid_json")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(400, _explain(exc), *_code_param(exc)) from None


def conversation(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    """The question (the last message, which must be the user's) and the earlier user/assistant turns.

    System and developer messages are dropped: the app's own instruction and safety rules apply.
    """
    last = messages[-1]
    if last.role != "user":
        raise ApiError(400, f"The last message must have role 'user' (it is the question); it has role "
                            f"'{last.role}'.", "invalid_value", param="messages")
    question = _content_text(last.content, len(messages) - 1, question=True)
    history: list[Message] = []
    for i, m in enumerate(messages[:-1]):
        if m.role in ("user", "assistant"):
            text = _content_text(m.content, i, question=False)
            if text.strip():
                history.append({"role": m.role, "content": text})
    return question, history


def _content_text(content: Any, i: int, question: bool) -> str:
    where = f"messages[{i}].content"
    if isinstance(content, str):
        return content
    if content is None and not question:
        return ""  # an assistant turn that only called tools
    if not isinstance(content, list):
        raise ApiError(400, f"{where} must be a string or a list of {{\"type\": \"text\", \"text\": ...}} parts; "
                            f"got {_json_type(content)}.", "invalid_type", param=where)
    texts, others = [], []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(kind, str):
            raise ApiError(400, f"{where}[{j}] must be an object with a string `type`.", "invalid_type",
                           param=where)
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise ApiError(400, f"{where}[{j}].text must be a string.", "invalid_type", param=where)
            texts.append(text)
        else:
            others.append(kind)
    if question and others:
        raise ApiError(400, f"This API reads text only; {where} has parts of type "
                            f"{', '.join(repr(k) for k in sorted(set(others)))}. Send the question as text.",
                       "unsupported_content", param=where)
    return "\n".join(texts)


def visitor_key(request: Request, trusted_proxies: int = 0) -> str:
    """Who is asking, for rate limits: the client's address. X-Forwarded-For is read only with trusted proxies
    configured, and then only the entry the outermost of them appended (see `access.client_address`)."""
    peer = request.client.host if request.client else None
    return address_key(client_address(peer, request.headers, trusted_proxies))


def generation_params(base: GenerationParams, req: ChatRequest) -> GenerationParams:
    """The app's sampling settings with the request's overrides."""
    changes: dict[str, Any] = {}
    tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    if tokens is not None:
        changes["max_new_tokens"] = tokens
    for name in ("temperature", "top_p", "seed"):
        if getattr(req, name) is not None:
            changes[name] = getattr(req, name)
    if req.stop is not None:
        changes["stop"] = tuple(s for s in ([req.stop] if isinstance(req.stop, str) else req.stop) if s)
    try:
        return replace(base, **changes)
    except InputError as exc:
        raise ApiError(400, str(exc), "invalid_value") from None


# --- the router ---------------------------------------------------------------------------------------------
def build_api(runtime: Runtime, access: Access) -> APIRouter:
    """The API routes, to include in the app before the UI is mounted at "/"."""
    router = APIRouter()

    @router.get("/health", tags=["api"])
    def health() -> JSONResponse:
        """Whether the app can answer. Never waits for the model: while it loads the status is "loading"."""
        body: dict[str, Any] = {"status": "loading", "backend": runtime.cfg.backend.backend,
                                "index": runtime.cfg.retrieval.index, "public": access.public}
        if runtime.load_error:
            body.update(status="error", error=runtime.load_error)
            return JSONResponse(body, status_code=503)
        if runtime.ready:
            try:
                body.update(status="ok", backend=runtime.assistant().backend.info().line())
            except MedGemmaError as exc:
                body.update(status="error", error=str(exc))
                return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    @router.get("/v1/models", tags=["api"])
    def models() -> dict[str, Any]:
        """The one model this server answers with, in OpenAI's list format."""
        return {"object": "list",
                "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "medgemma-studio"}]}

    @router.post("/v1/embeddings", tags=["api"], openapi_extra=_request_schema(EmbeddingsRequest))
    async def embeddings(request: Request) -> Any:
        """Vectors from the embedder of the answering index, in OpenAI's format (`float` or `base64`)."""
        return await _answering(_embeddings, runtime, access, request)

    @router.post("/v1/search", tags=["api"], openapi_extra=_request_schema(SearchRequest))
    async def search(request: Request) -> Any:
        """The passages an index holds for a query, best first, with their sources and cosine scores."""
        return await _answering(_search, runtime, access, request)

    @router.post("/v1/chat/completions", tags=["api"], openapi_extra=_request_schema())
    async def chat_completions(request: Request) -> Any:
        """An answer from the sources, with citations; `stream: true` for server-sent events."""
        return await _answering(_complete, runtime, access, request)

    return router


async def _answering(handler: Callable[..., Any], runtime: Runtime, access: Access, request: Request) -> Any:
    """Run `handler` and answer its errors in OpenAI's shape."""
    try:
        return await handler(runtime, access, request)
    except ApiError as exc:
        return exc.response()
    except RateLimited as exc:
        return _rate_error(exc).response()
    except MedGemmaError as exc:
        return _failure(exc).response()
    except Exception:  # noqa: BLE001 - the message is generic; the traceback goes to the server log
        log.exception("%s failed", request.url.path)
        return _internal().response()


async def _embeddings(runtime: Runtime, access: Access, request: Request) -> Any:
    req = parse_request(await read_body(request), EmbeddingsRequest, "input")
    key = visitor_key(request, access.cfg.trusted_proxies)
    try:
        name, vectors, tokens = await run_in_threadpool(tools.embed, runtime, req.input, lambda: access.check_rate(key))
    except InputError as exc:
        raise ApiError(400, str(exc), "invalid_value", param="input") from None
    if req.dimensions is not None and vectors and req.dimensions != len(vectors[0]):
        raise ApiError(400, f"This embedder's vectors have {len(vectors[0])} dimensions; `dimensions` cannot change "
                            "that.", "invalid_value", param="dimensions")
    if req.encoding_format == "base64":
        import base64

        import numpy as np

        data = [base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for v in vectors]
    else:
        data = vectors  # type: ignore[assignment]
    return JSONResponse({
        "object": "list", "model": name,
        "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(data)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })


async def _search(runtime: Runtime, access: Access, request: Request) -> Any:
    req = parse_request(await read_body(request), SearchRequest, "query")
    key = visitor_key(request, access.cfg.trusted_proxies)
    try:
        found = await run_in_threadpool(tools.search, runtime, req.query, req.k, req.index,
                                        lambda: access.check_rate(key))
    except InputError as exc:
        raise ApiError(400, str(exc), "invalid_value") from None
    return JSONResponse({"object": "list", **found})


def _rate_error(exc: RateLimited) -> ApiError:
    retry = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    if isinstance(exc, Busy):
        return ApiError(503, str(exc), "server_busy", "server_error", headers=retry)
    return ApiError(429, str(exc), "rate_limit_exceeded", "rate_limit_error", headers=retry)


async def _complete(runtime: Runtime, access: Access, request: Request) -> Any:
    req = parse_request(await read_body(request))
    question, history = conversation(req.messages)
    try:
        assistant: Assistant = await run_in_threadpool(runtime.assistant)
    except MedGemmaError as exc:
        raise ApiError(503, f"The model is not available: {exc}", "model_unavailable", "server_error") from None
    question = assistant.check_input(question)  # InputError: 400, before the question counts as asked
    params = generation_params(assistant.generation, req)
    key = visitor_key(request, access.cfg.trusted_proxies)
    hold = ExitStack()
    stop = StopSignal()
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    try:
        access.check_rate(key)
        hold.enter_context(access.one_at_a_time(key))
        # An emergency or a refused request never reaches the model, so it does not wait for a turn.
        region = region_of(request.headers.get("accept-language", ""))  # the emergency number to give
        verdict = await run_in_threadpool(assistant.verdict, question, region)
        runtime.questions.record("v1", question, verdict)
        hold.callback(await access.turns.acquire(not verdict.blocks_model))
        items = assistant.stream(question, history, k=req.k, rag=req.rag is not False, params=params, stop=stop,
                                 region=region)
        if not req.stream:
            reply = await _watching(request, stop, lambda: _last(items))
            hold.close()
            return JSONResponse(completion_json(reply, cid, created))
        # The first item is awaited here, so a model that fails to load answers 503 rather than a broken stream.
        first = await _watching(request, stop, lambda: next(items))
    except RateLimited as exc:  # Busy too: the line for the model is full
        hold.close()
        raise _rate_error(exc) from None
    except BaseException:
        stop.set()
        hold.close()
        raise

    def chained() -> Iterator[Partial | Reply]:
        yield first
        yield from items

    events = stream_events(chained(), cid, created)

    def finish() -> None:
        stop.set()
        events.close()  # closes the assistant's stream and the backend's under it
        items.close()
        hold.close()

    return EventStream(events, finish)


class EventStream(StreamingResponse):
    """Server-sent events from a blocking generator read in worker threads; `on_close` runs once it ends.

    `on_close` runs however the response ends (finished, client gone, cancelled), after the last read of
    the generator has returned, so it may close the generator.
    """

    def __init__(self, events: Iterator[str], on_close: Callable[[], None]) -> None:
        super().__init__(iterate_in_threadpool(events), media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._on_close)


async def _watching(request: Request, stop: StopSignal, work: Callable[[], T]) -> T:
    """Run blocking `work` in a worker thread; if the client goes away meanwhile, set `stop`."""
    outcome: list[Any] = []

    async def watch() -> None:
        while True:
            await anyio.sleep(DISCONNECT_POLL_S)
            if await request.is_disconnected():
                stop.set()
                return

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            outcome.append(await run_in_threadpool(work))
        except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
            outcome.append(exc)
        group.cancel_scope.cancel()
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]  # type: ignore[no-any-return]


def _last(items: Iterator[Partial | Reply]) -> Reply:
    last: Partial | Reply | None = None
    for last in items:
        pass
    if not isinstance(last, Reply):  # cannot happen: a stream always ends with its Reply
        raise RuntimeError("the answer stream ended without a reply")
    return last


# --- errors -------------------------------------------------------------------------------------------------
def _failure(exc: MedGemmaError) -> ApiError:
    if isinstance(exc, InputError):
        return ApiError(400, str(exc), "invalid_value")
    return ApiError(503, str(exc), "backend_error", "server_error")


def _internal() -> ApiError:
    return ApiError(500, "The server failed to answer; the error is in its log. Try again later.",
                    "internal_error", "server_error")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is over {limit // 1024} KB.", "body_too_large")


def _explain(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        detail = str(first["msg"]).removeprefix("Invalid JSON: ")
        return f"The request body is not valid JSON ({detail})."
    if not first["loc"]:
        return f"The request body must be a JSON object, not {_json_type(first.get('input'))}."
    parts = [f"{_where(e['loc'])}: {e['msg']}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "Invalid request: " + "; ".join(parts) + more + "."


def _code_param(exc: ValidationError) -> tuple[str, str, str | None]:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return "invalid_json", "invalid_request_error", None
    return ("invalid_value" if first["type"] != "missing" else "missing_field", "invalid_request_error",
            _where(first["loc"]) or None)


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "int", "float", "bool", "list[str]", "constrained-float", "list[constrained-str]"):
            continue  # the branch of a union, which means nothing to a client
        else:
            out += f".{part}" if out else str(part)
    return out


def _json_type(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _request_schema(model: type[BaseModel] = ChatRequest) -> dict[str, Any]:
    # Parsed by hand (for OpenAI-shaped errors), so the docs page is told the body's schema here.
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.split("/")[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


__all__ = ["MAX_BODY_BYTES", "MODEL_ID", "ApiError", "ChatMessage", "ChatRequest", "EmbeddingsRequest",
           "EventStream", "SearchRequest", "build_api",
           "citations_json", "completion_json", "conversation", "generation_params", "parse_request", "read_body",
           "reply_extras", "stream_events", "visitor_key"]

