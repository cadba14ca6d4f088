"""The tools agents discover by themselves: a Gradio app of four API functions served as an MCP server
(Model Context Protocol, streamable HTTP at `/agent/gradio_api/mcp/`).

`ask` answers through the same door as the Gradio API (`chat.answer_updates`: the visitor's limits, the safety
verdict, the one line for the model); `search`, `triage` and `list_indexes` call `medgemma.tools`. Each tool
returns JSON text. Every function runs outside Gradio's queue (`queue=False`): Gradio then calls it with the
caller's own request, so limits count the caller's address, and never makes a loopback call of its own to a
URL built from the request's headers. Waiting for the model happens in the shared line, as for every door.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gradio as gr
from starlette.concurrency import run_in_threadpool

from .. import tools
from ..access import Access
from ..errors import MedGemmaError
from ..runtime import Runtime
from ..safety.messages import region_of
from .chat import answer_updates
from .guard import Guard

PATH = "/agent"
MCP_PATH = f"{PATH}/gradio_api/mcp/"
LIMITS = ("For education and research only: not medical advice, no diagnosis, no doses, no treatment decisions. "
          "Emergencies get an emergency message (call your local emergency number) and harmful requests are "
          "refused; the reply's safety verdict says which. A public deployment limits questions per minute.")
FAILED = "The tool failed; the error is in the server's log. Try again later."

log = logging.getLogger(__name__)


def build_agent(runtime: Runtime, access: Access) -> gr.Blocks:
    """The MCP tools as a Gradio app, to mount at PATH with `mcp_server=True`."""
    guard = Guard(access)

    async def ask(question: str, k: int = 4, rag: bool = True,
                  request: gr.Request = None) -> str:  # type: ignore[assignment]
        """Answer a medical question from cited educational passages, with the safety verdict. For education and research only: not medical advice, no diagnosis, no doses, no treatment decisions; emergencies get an emergency message and harmful requests are refused. A public deployment limits questions per minute and answers one question per caller at a time.

        Args:
            question: The question in plain text (at most the server's message limit, 4000 characters by default).
            k: How many passages the model reads, 0 to 20 (0: none).
            rag: True answers from the retrieved passages; False lets the model answer alone, labelled unsourced.

        Returns:
            JSON: answer (text citing passages as [n]), verdict (action: answer, educate, urgent, emergency or refuse; category), citations (every passage read: n, title, source, url, score, text, cited), flags and support.
        """
        final: dict[str, Any] = {}
        try:
            async for update in answer_updates(runtime, guard, question, k, rag, request, door="mcp"):
                final = update
        except gr.Error as exc:
            raise ToolError(str(exc.message)) from None
        except Exception:  # noqa: BLE001 - as in `_call`
            log.exception("MCP tool ask failed")
            raise ToolError(FAILED) from None
        final.pop("final", None)
        return _json(final)

    async def search(query: str, k: int = 4, index: str = "",
                     request: gr.Request = None) -> str:  # type: ignore[assignment]
        """Search an index of educational medical passages; returns passages with their sources and scores. No model writes anything: for education and research only, not medical advice. A public deployment limits calls per minute.

        Args:
            query: What to look for, in plain text (at most the server's message limit).
            k: How many passages to return, 1 to 20.
            index: The index to search (see list_indexes); empty for the one the answers come from.

        Returns:
            JSON: index, query and passages (n, id, title, source, url, score as cosine similarity, page, text), best first.
        """
        return await _call(guard, request, tools.search, runtime, query, k, index or None)

    async def triage(question: str, request: gr.Request = None) -> str:  # type: ignore[assignment]
        """The safety verdict on a question alone, as the app decides it before any answer: its rules, then its learned triage model; no language model runs. For education and research only, not medical advice: an educational triage, not a clinical one, and never a reason to delay calling emergency services. A public deployment limits calls per minute.

        Args:
            question: The question in plain text (at most the server's message limit).

        Returns:
            JSON: action (answer, educate, urgent, emergency or refuse), category, message (what the app would show: an emergency number, a referral) and model_would_answer.
        """
        region = region_of(request.headers.get("accept-language", "")) if request is not None else ""
        return await _call(guard, request, tools.triage, runtime, question, region, "mcp-triage")

    async def list_indexes(request: gr.Request = None) -> str:  # type: ignore[assignment]
        """List the indexes of educational passages that search and ask can read. For education and research only, not medical advice.

        Returns:
            JSON list: name, passages, embedder, sources (file names) and answering (whether ask answers from it).
        """
        return await _call(guard, request, tools.indexes, runtime, counted=False)

    with gr.Blocks(title="MedGemma Studio tools", analytics_enabled=False) as demo:
        gr.Markdown(f"# MedGemma Studio: tools for agents\nAn MCP server (streamable HTTP) at `{MCP_PATH}` with the "
                    f"tools `ask`, `search`, `triage` and `list_indexes`.\n\n{LIMITS}")
        for fn in (ask, search, triage, list_indexes):
            gr.api(fn, api_name=fn.__name__, queue=False, concurrency_limit=None)
    return demo


async def _call(guard: Guard, request: gr.Request | None, fn: Any, *args: Any, counted: bool = True) -> str:
    """One tool call, run in a worker thread, as JSON text; `counted`: against the caller's rate (public
    mode), once its input is checked."""
    visitor = guard.address(request)
    try:
        if counted:
            return _json(await run_in_threadpool(fn, *args, admit=lambda: guard.access.check_rate(visitor)))
        return _json(await run_in_threadpool(fn, *args))
    except MedGemmaError as exc:
        raise ToolError(str(exc)) from exc
    except Exception:  # noqa: BLE001 - a caller sees a plain message; the traceback goes to the server log
        log.exception("MCP tool %s failed", getattr(fn, "__name__", fn))
        raise ToolError(FAILED) from None


class ToolError(gr.Error):
    """A Gradio error whose text is the bare message (MCP sends `str(error)`; Gradio's own is a repr)."""

    def __str__(self) -> str:
        return str(self.message)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
