"""The web server: the HTTP API, the full app at "/" and the iframe layout at "/embed/", in one FastAPI app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr
from fastapi import FastAPI, Request

from ..access import Access
from ..runtime import Runtime
from . import TITLE, build_embed, build_ui, launch_kwargs
from .agent import PATH as AGENT_PATH
from .agent import build_agent

if TYPE_CHECKING:
    import uvicorn


def build_app(runtime: Runtime, access: Access | None = None) -> FastAPI:
    """One ASGI app serving every front door, sharing one runtime (one model) and one set of access rules."""
    from ..api import MAX_BODY_BYTES, build_api  # FastAPI only; kept out of the UI modules

    access = access or Access(runtime.cfg.access, runtime.cfg.uploads_dir)
    limits = runtime.cfg.access
    app = FastAPI(title=TITLE, docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.include_router(build_api(runtime, access))
    # In public mode a failing handler shows visitors a generic message; the details go to the log.
    common = {"max_file_size": f"{limits.upload_mb}mb", "show_error": not limits.public}

    @app.middleware("http")
    async def embedding_policy(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        # Who may frame the iframe layout. "*" (anyone) sends nothing: CSP's * would also shut out file: pages.
        if limits.frame_ancestors != "*" and request.url.path.startswith("/embed"):
            response.headers["Content-Security-Policy"] = f"frame-ancestors {limits.frame_ancestors}"
        return response

    # The MCP server and its tools (every call outside Gradio's queue; see ui/agent.py).
    agent = build_agent(runtime, access)
    app = gr.mount_gradio_app(app, agent, path=AGENT_PATH, mcp_server=True, **common, **launch_kwargs())  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, prefix=AGENT_PATH + "/", limit=MAX_BODY_BYTES)
    # Embed first: Starlette tries mounts in order and "/" matches everything.
    embed = build_embed(runtime, access).queue(default_concurrency_limit=limits.chat_concurrency,
                                               max_size=limits.queue_size)
    app = gr.mount_gradio_app(app, embed, path="/embed", **common, **launch_kwargs(embed=True))  # type: ignore[arg-type]
    full = build_ui(runtime, access).queue(default_concurrency_limit=limits.chat_concurrency,
                                           max_size=limits.queue_size)
    app = gr.mount_gradio_app(app, full, path="", **common, **launch_kwargs())  # type: ignore[arg-type]
    for blocks in (agent, embed, full):
        # Gradio checks that a file a client names was uploaded (and refuses to copy any other server file
        # into its cache) only in a Blocks marked launched; mounting does not mark it, so it is marked here.
        blocks.has_launched = True
    return app


class BodyLimit:
    """ASGI middleware: a request under `prefix` whose body is over `limit` bytes gets 413, counted as it
    arrives (a missing or false Content-Length does not help); other requests pass untouched."""

    def __init__(self, app: Any, prefix: str, limit: int) -> None:
        self.app, self.prefix, self.limit = app, prefix, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen, over, started = 0, False, False

        async def counted() -> Any:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True  # the app is told the client left; the 413 is sent below
                    return {"type": "http.disconnect"}
            return message

        async def sending(message: Any) -> None:
            nonlocal started
            if over and not started:
                return  # whatever the app answers to a body it never got whole is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, sending)
        if over and not started:
            await _too_large(send, self.limit)


async def _too_large(send: Any, limit: int) -> None:
    body = f'{{"error": "The request body is over {limit // 1024} KB."}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def serve(runtime: Runtime, app: FastAPI | None = None) -> None:
    """Run the app until interrupted, loading the model in the background meanwhile."""
    import uvicorn

    app = app or build_app(runtime)
    runtime.warm_up()
    print(f"MedGemma Studio on http://{runtime.cfg.host}:{runtime.cfg.port}/ "
          f"(embed: /embed/, API: /v1/chat/completions, docs: /api/docs, MCP: {AGENT_PATH}/gradio_api/mcp/)", flush=True)
    uvicorn.Server(server_config(app, runtime.cfg.host, runtime.cfg.port)).run()


def server_config(app: FastAPI, host: str, port: int) -> "uvicorn.Config":
    """How uvicorn serves the app."""
    import uvicorn

    # proxy_headers off: uvicorn would otherwise take X-Forwarded-For as the client's address for any
    # connection from 127.0.0.1, so a local visitor could name any address. The app reads that header
    # itself, only with MEDGEMMA_TRUSTED_PROXIES set. Open streams (a browser tab, a client's queue
    # connection) would otherwise hold a SIGTERM off for ever: hence the graceful-shutdown timeout.
    return uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5,
                          proxy_headers=False)
