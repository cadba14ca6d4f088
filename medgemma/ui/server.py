"""The web server: the HTTP API, the full app at "/" and the iframe layout at "/embed/", in one FastAPI app."""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI

from ..access import Access
from ..runtime import Runtime
from . import TITLE, build_embed, build_ui, launch_kwargs


def build_app(runtime: Runtime, access: Access | None = None) -> FastAPI:
    """One ASGI app serving every front door, sharing one runtime (one model) and one set of access rules."""
    from ..api import build_api  # FastAPI only; kept out of the UI modules

    access = access or Access(runtime.cfg.access, runtime.cfg.uploads_dir)
    limits = runtime.cfg.access
    app = FastAPI(title=TITLE, docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.include_router(build_api(runtime, access))
    common = {"max_file_size": f"{limits.upload_mb}mb", "show_error": True}
    # Embed first: Starlette tries mounts in order and "/" matches everything.
    embed = build_embed(runtime, access).queue(default_concurrency_limit=limits.chat_concurrency,
                                               max_size=limits.queue_size)
    app = gr.mount_gradio_app(app, embed, path="/embed", **common, **launch_kwargs(embed=True))  # type: ignore[arg-type]
    full = build_ui(runtime, access).queue(default_concurrency_limit=limits.chat_concurrency,
                                           max_size=limits.queue_size)
    return gr.mount_gradio_app(app, full, path="", **common, **launch_kwargs())  # type: ignore[arg-type]


def serve(runtime: Runtime, app: FastAPI | None = None) -> None:
    """Run the app until interrupted, loading the model in the background meanwhile."""
    import uvicorn

    app = app or build_app(runtime)
    runtime.warm_up()
    print(f"MedGemma Studio on http://{runtime.cfg.host}:{runtime.cfg.port}/ "
          f"(embed: /embed/, API: /v1/chat/completions, docs: /api/docs)", flush=True)
    # Open streams (a browser tab, a client's queue connection) would otherwise hold a SIGTERM off for ever.
    uvicorn.run(app, host=runtime.cfg.host, port=runtime.cfg.port, log_level="warning", timeout_graceful_shutdown=5)
