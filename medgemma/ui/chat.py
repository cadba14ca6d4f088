"""The chat tab: streamed answers, the citation panel, the safety banner, settings and the status line.

Handlers check their inputs, make one call to the Assistant and yield what to show.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any, AsyncIterator

import gradio as gr
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from .. import safety
from ..safety.messages import region_of
from ..access import Cancelled, waiting_text
from ..api import reply_extras
from ..assistant import Partial
from ..backends.base import StopSignal
from ..config import GenerationParams
from ..errors import InputError, MedGemmaError
from ..runtime import Runtime
from ..tools import check_k
from ..types import Message, Reply
from .documents import build_documents_panel
from .models import build_model_panel
from .guard import Guard
from .render import safety_banner, sources_panel

IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

EXAMPLES = [
    "What are the warning signs of a stroke?",
    "How does paracetamol overdose damage the liver?",
    "What does pneumonia look like on a chest X-ray?",
    "Why should antibiotics not be used for colds?",
    "What are the symptoms of sepsis?",
    "How do vaccines train the immune system?",
]


MAX_REMEMBERED = 10_000  # sessions whose stop signal and waiting question are kept; the oldest go first


class StopSignals:
    """One stop signal per browser session, so Stop ends only that visitor's answer."""

    def __init__(self, most: int = MAX_REMEMBERED) -> None:
        self._signals: OrderedDict[str, StopSignal] = OrderedDict()
        self._most = most
        self._lock = threading.Lock()

    def get(self, session: str) -> StopSignal:
        with self._lock:
            signal = self._signals.pop(session, None) or StopSignal()
            self._signals[session] = signal  # most recently used last; a flood pushes out only idle sessions
            while len(self._signals) > self._most:
                self._signals.popitem(last=False)
            return signal


class Questions:
    """Questions that passed triage and wait for `respond`, kept on the server: each is answered once, for
    the visitor who asked it, so a client cannot replay or forge one."""

    def __init__(self, most: int = MAX_REMEMBERED) -> None:
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._most = most
        self._lock = threading.Lock()

    def put(self, visitor: str, job: dict[str, Any]) -> str:
        ticket = uuid.uuid4().hex
        with self._lock:
            self._jobs[ticket] = {**job, "visitor": visitor}
            while len(self._jobs) > self._most:
                self._jobs.popitem(last=False)
        return ticket

    def take(self, visitor: str, ticket: Any) -> dict[str, Any] | None:
        if not isinstance(ticket, str):
            return None
        with self._lock:
            job = self._jobs.get(ticket)
            if job is None or job["visitor"] != visitor:
                return None
            return self._jobs.pop(ticket)


def text_of(content: Any) -> str:
    """The text of a Gradio message content (a string or a list of typed parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, (list, tuple)):
        return "\n".join(text_of(c) for c in content if not isinstance(c, dict) or c.get("type", "text") == "text")
    return ""


def to_messages(history: list[dict[str, Any]] | None) -> list[Message]:
    """Gradio chat history as plain role/content messages."""
    out: list[Message] = []
    for m in history or []:
        role = m.get("role")
        text = text_of(m.get("content"))
        if role in ("user", "assistant") and text:  # an image shown in the chat has no text to pass on
            out.append({"role": role, "content": text})
    return out


def reply_json(reply: Reply) -> dict[str, Any]:
    """A reply as plain JSON: answer text, verdict and every passage with its number and whether it is cited."""
    extras = reply_extras(reply)  # the same fields the HTTP API adds
    return {"answer": reply.text, "verdict": extras["safety"], "citations": extras["citations"],
            "flags": extras["flags"], "support": extras["support"]}


def build_chat_tab(runtime: Runtime, demo: gr.Blocks, guard: Guard, embed: bool = False) -> None:
    """Add the chat components and events to the current Blocks.

    `embed`: the column-sized layout for iframes (banner, chat, sources below it; no settings or panels).
    """
    signals, questions = StopSignals(), Questions()
    cfg = runtime.cfg

    banner = gr.HTML(safety_banner(safety.POLICY), elem_id="mg-banner")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280 if embed else 320):
            chatbot = gr.Chatbot(label="Chat", height=460 if embed else 520, elem_id="mg-chat", buttons=["copy"],
                                 show_label=not embed,
                                 placeholder="Ask a medical question. Answers cite their sources like [1].")
            with gr.Row():
                box = gr.Textbox(placeholder="Type a question and press Enter", show_label=False, scale=5,
                                 max_lines=6, elem_id="mg-question", max_length=cfg.max_message_chars)
                send = gr.Button("Ask", variant="primary", scale=1, min_width=60, elem_id="mg-ask")
                stop = gr.Button("Stop", variant="stop", scale=1, min_width=60, elem_id="mg-stop")
            if embed:
                image: Any = gr.State(None)
            else:
                with gr.Accordion("Attach an image (multimodal models only)", open=False):
                    image = gr.Image(type="filepath", label="Image", sources=["upload"], height=160,
                                     elem_id="mg-image")
                    gr.Markdown("Read by multimodal models such as MedGemma 4B (transformers backend); a text-only "
                                "model answers from the question alone and says so.")
                    forget = gr.Button("Delete my uploads", size="sm", elem_id="mg-delete-uploads")
                gr.Examples(EXAMPLES, inputs=[box], label="Example questions")
            status = gr.Markdown("**Backend:** loading…", elem_id="mg-status", visible=not embed)
        if not embed:
            with gr.Column(scale=2, min_width=280):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_panel([]), elem_id="mg-sources")
    if embed:
        with gr.Accordion("Sources", open=True):
            sources = gr.HTML(sources_panel([]), elem_id="mg-sources")
        # The embed layout answers with the app's settings.
        k, rag = gr.State(cfg.retrieval.k), gr.State(True)
        temperature, max_tokens = gr.State(cfg.generation.temperature), gr.State(cfg.generation.max_new_tokens)
    else:
        with gr.Accordion("Settings", open=False):
            with gr.Row():
                k = gr.Slider(0, 10, value=cfg.retrieval.k, step=1, label="Passages (k)",
                              info="How many retrieved passages the model reads.")
                rag = gr.Checkbox(value=True, label="Answer from sources (RAG)",
                                  info="Off: the model answers from its own memory, without citations.")
                temperature = gr.Slider(0.0, 1.5, value=cfg.generation.temperature, step=0.05, label="Temperature",
                                        info="0 always picks the most likely word; higher is more varied.")
                max_tokens = gr.Slider(16, 1024, value=cfg.generation.max_new_tokens, step=16,
                                       label="Max new tokens")
        build_model_panel(runtime, status, guard)
        build_documents_panel(runtime, status, guard)

    def triage(message: str, past: list[dict[str, Any]], picture: str | None,
               request: gr.Request) -> tuple[Any, ...]:
        # Runs in the queue with no concurrency limit (it never touches the model), so an emergency or a refused
        # request is answered at once however many answers wait for the model; a question the model may see is
        # handed to `respond` through a ticket. The conversation (`past`) is server-side state: nothing the
        # client sends is shown back as a message or read as a file.
        try:
            assistant = runtime.assistant()
            question = assistant.check_input(message)
            upload = guard.uploaded(picture)
            guard.count_question(request)
            visitor = guard.visitor(request)
            images = [str(guard.access.keep_upload(visitor, upload, IMAGE_TYPES))] if upload else []
            region = region_of(request.headers.get("accept-language", "")) if request is not None else ""
            verdict = assistant.verdict(question, region)
            runtime.questions.record("embed" if embed else "web", question, verdict)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        shown: list[dict[str, Any]] = [*(past or []), {"role": "user", "content": question}]
        if upload:  # shown from Gradio's own copy, which its file route serves; the kept copy is never served
            shown.append({"role": "user", "content": {"path": str(upload)}})
        if verdict.blocks_model:
            shown.append({"role": "assistant", "content": verdict.message})
            return shown, shown, sources_panel([]), safety_banner(safety.POLICY, verdict), "", gr.skip()
        shown.append({"role": "assistant", "content": ""})
        # An urgent or personal question's banner shows at once, before the model starts, and stays.
        banner_now = safety_banner(safety.POLICY, verdict)
        ticket = questions.put(visitor, {"question": question, "past": to_messages(past), "images": images,
                                         "region": region, "banner": banner_now})
        return shown, shown, sources_panel([]), banner_now, "", ticket

    async def respond(
        ticket: str | None, shown: list[dict[str, Any]], k_: float, rag_: bool, temp: float,
        max_new: float, request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:
        job = questions.take(guard.visitor(request), ticket)
        if job is None or not shown:
            return  # no question waits for this visitor: a replayed or forged call does nothing
        try:
            assistant = await run_in_threadpool(runtime.assistant)
            params = GenerationParams(
                max_new_tokens=int(max_new), temperature=float(temp), top_p=cfg.generation.top_p,
                repeat_penalty=cfg.generation.repeat_penalty, seed=cfg.generation.seed,
            )
        except (MedGemmaError, TypeError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc
        signal = signals.get(guard.visitor(request))
        signal.clear()
        default_banner = job.get("banner") or safety_banner(safety.POLICY)
        turns = guard.access.turns
        with guard.answer_slot(request):
            place = None
            try:
                place = turns.join()
                # The visitor sees their place in the line, and an estimate, as it moves.
                async for ahead in turns.places_async(place, stop=lambda: signal.is_set):
                    shown[-1]["content"] = waiting_text(ahead, turns.wait_estimate(ahead))
                    yield shown, shown, sources_panel([]), default_banner
                shown[-1]["content"] = ""
                async for item in iterate_in_threadpool(
                        assistant.stream(job["question"], job["past"], k=int(k_), rag=bool(rag_), params=params,
                                         stop=signal, images=job["images"], region=job.get("region", ""))):
                    shown[-1]["content"] = item.text
                    if isinstance(item, Partial):
                        yield shown, shown, sources_panel(item.passages), default_banner
                    else:
                        yield _final(item, shown)
            except Cancelled:
                shown[-1]["content"] = "(stopped)"
                yield shown, shown, sources_panel([]), default_banner
            except MedGemmaError as exc:
                raise gr.Error(str(exc)) from exc
            finally:
                signal.set()  # a closed tab ends the generation running in its worker thread
                if place is not None:
                    turns.leave(place)

    def _final(reply: Reply, shown: list[dict[str, Any]]) -> tuple[Any, ...]:
        if "images_ignored" in reply.flags:
            gr.Warning("This model reads text only, so the image was not used. A multimodal model (for example "
                       "google/medgemma-4b-it on the transformers backend) can read it.")
        panel = sources_panel(reply.passages, reply.cited, reply.support)
        return shown, shown, panel, safety_banner(safety.POLICY, reply.verdict)

    def request_stop(request: gr.Request) -> None:
        signals.get(guard.visitor(request)).set()

    def show_status() -> str:
        try:
            return "**Backend:** " + runtime.assistant().backend.info().line()
        except MedGemmaError as exc:
            return f"**Backend failed to load:** {exc}"

    # The conversation as this server showed it; the chatbot only displays it and is never an input.
    past, pending = gr.State([]), gr.State(None)
    for trigger in (box.submit, send.click):
        trigger(triage, [box, past, image], [chatbot, past, sources, banner, box, pending], concurrency_limit=None,
                api_visibility="private")
    # Answers that need the model wait in the queue and then in the one line for the model that every door
    # shares; the status line is refreshed after each, as memory grows once the model has loaded.
    # Every answer waits in that line (which shows the visitor their place), not in Gradio's queue ahead of it.
    pending.change(respond, [pending, past, k, rag, temperature, max_tokens], [chatbot, past, sources, banner],
                   concurrency_limit=cfg.access.chat_concurrency + cfg.access.queue_size, concurrency_id="chat",
                   api_visibility="private").then(show_status, None, status, api_visibility="private", queue=False)
    stop.click(request_stop, None, None, queue=False, api_visibility="private")
    if not embed:
        def delete_uploads(request: gr.Request) -> None:
            gone = guard.access.delete_uploads(guard.visitor(request))
            gr.Info(f"Deleted {gone} uploaded file{'s' if gone != 1 else ''} of yours from this server.")

        forget.click(delete_uploads, None, None, queue=False, api_visibility="private")
    chatbot.clear(lambda: ([], sources_panel([]), safety_banner(safety.POLICY)), None, [past, sources, banner],
                  api_visibility="private")
    demo.load(show_status, None, status, api_visibility="private")

    if embed:
        return  # one Blocks publishes the API

    async def chat(question: str, k: int = 4, rag: bool = True,
                   request: gr.Request = None) -> AsyncIterator[dict[str, Any]]:  # type: ignore[assignment]
        """Answer one question as it is written: yields the reply so far ("final": false), then the checked
        reply with its citations and safety verdict ("final": true)."""
        async for update in answer_updates(runtime, guard, question, k, rag, request, door="gradio-api"):
            yield update

    async def ask(question: str, k: int = 4, rag: bool = True,
                  request: gr.Request = None) -> dict[str, Any]:  # type: ignore[assignment]
        """Answer one question from the sources; returns the answer, its citations and the safety verdict."""
        final: dict[str, Any] = {}
        async for update in chat(question, k, rag, request):
            final = update
        final.pop("final", None)
        return final

    # No Gradio concurrency limit: waiting happens in the shared line, without holding a worker thread.
    gr.api(ask, api_name="ask", concurrency_limit=None)
    gr.api(chat, api_name="chat", concurrency_limit=None)


async def answer_updates(runtime: Runtime, guard: Guard, question: Any, k: Any, rag: Any,
                         request: gr.Request | None, door: str) -> AsyncIterator[dict[str, Any]]:
    """The answer to one call of a programmatic door (the Gradio API's `ask` and `chat`, the MCP `ask`): the
    visitor's limits, the safety verdict, the one line for the model, then the assistant's stream, as dicts
    (`{"answer", "final": False}` while it grows, then `reply_json` with `"final": True`). Errors are `gr.Error`;
    `door` names the door in the question log."""
    stop = StopSignal()
    # Keyed by address: a call to these endpoints chooses its own session, so a session counts nothing.
    visitor = guard.address(request)
    release = None
    try:
        assistant = await run_in_threadpool(runtime.assistant)
        text = assistant.check_input(question)
        depth = check_k(k, lowest=0)
        if not isinstance(rag, bool):
            raise InputError("rag must be true or false.")
        guard.access.check_rate(visitor)
        region = region_of(request.headers.get("accept-language", "")) if request is not None else ""
        with guard.access.one_at_a_time(visitor):
            # Emergencies and refusals never reach the model, so they do not wait for a turn at it.
            verdict = await run_in_threadpool(assistant.verdict, text, region)
            runtime.questions.record(door, text, verdict)
            release = await guard.access.turns.acquire(not verdict.blocks_model)
            async for item in iterate_in_threadpool(
                    assistant.stream(text, k=depth, rag=rag, stop=stop, region=region)):
                if isinstance(item, Partial):
                    yield {"answer": item.text, "final": False}
                else:
                    yield {**reply_json(item), "final": True}
    except MedGemmaError as exc:
        raise gr.Error(str(exc)) from exc
    finally:
        stop.set()  # a visitor who left stops the generation running in its worker thread
        if release is not None:
            release()
