"""The web server: the HTTP API, the full app at "/" and the iframe layout at "/embed/", in one FastAPI app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr
from fastapi import FastAPI, Request

from ..access import Access
from ..runtime import Runtime
from . import TITLE, build_embed, build_ui, launch_kwargs

if TYPE_CHECKING:
    import uvicorn


def build_app(runtime: Runtime, access: Access | None = None) -> FastAPI:
    """One ASGI app serving every front door, sharing one runtime (one model) and one set of access rules."""
    from ..api import build_api  # FastAPI only; kept out of the UI modules

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

    # Embed first: Starlette tries mounts in order and "/" matches everything.
    embed = build_embed(runtime, access).queue(default_concurrency_limit=limits.chat_concurrency,
                                               max_size=limits.queue_size)
    app = gr.mount_gradio_app(app, embed, path="/embed", **common, **launch_kwargs(embed=True))  # type: ignore[arg-type]
    full = build_ui(runtime, access).queue(default_concurrency_limit=limits.chat_concurrency,
                                           max_size=limits.queue_size)
    app = gr.mount_gradio_app(app, full, path="", **common, **launch_kwargs())  # type: ignore[arg-type]
    for blocks in (embed, full):
        # Gradio checks that a file a client names was uploaded (and refuses to copy any other server file
        # into its cache) only in a Blocks marked launched; mounting does not mark it, so it is marked here.
        blocks.has_launched = True
    return app


def serve(runtime: Runtime, app: FastAPI | None = None) -> None:
    """Run the app until interrupted, loading the model in the background meanwhile."""
    import uvicorn

    app = app or build_app(runtime)
    runtime.warm_up()
    print(f"MedGemma Studio on http://{runtime.cfg.host}:{runtime.cfg.port}/ "
          f"(embed: /embed/, API: /v1/chat/completions, docs: /api/docs)", flush=True)
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
