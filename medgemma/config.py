"""Typed configuration with defaults and help text.

`AppConfig.from_env()` is where the app's environment variables are read (the evaluation data folder,
`MEDGEMMA_DATA`, is read by `medgemma.eval.tasks.default_data_dir`); everything else receives config objects. The CLI builds its flags from the same dataclasses (`field_help`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def _help(text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings shared by every backend."""

    max_new_tokens: int = _help("Most tokens to generate for one answer.", 256)
    temperature: float = _help("0 gives the most likely token every time (deterministic).", 0.0)
    top_p: float = _help("Sample only from the most likely tokens whose probabilities add up to this.", 0.95)
    repeat_penalty: float = _help("Above 1 discourages repeating the same words.", 1.1)
    seed: int = _help("Random seed, so the same settings give the same text.", 0)
    stop: tuple[str, ...] = _help("Generation ends before any of these strings.", ())

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 8192:
            raise InputError("max_new_tokens must be between 1 and 8192.")
        if not 0.0 <= self.temperature <= 2.0:
            raise InputError("temperature must be between 0 and 2.")
        if not 0.0 < self.top_p <= 1.0:
            raise InputError("top_p must be in (0, 1].")


@dataclass(frozen=True)
class RetrievalConfig:
    """How passages are found for a question."""

    index: str = _help("Name of the index folder under indices/ (built from the corpus on first use).", "default")
    k: int = _help("How many passages to give the model.", 4)
    # Dense is the default because it measured better: PubMedQA recall@1 0.972 dense vs 0.968 hybrid
    # (bench/retrieval_bench.py). Hybrid stays available for corpora with rare exact terms (drug names, codes).
    mode: str = _help("'dense' (FAISS) or 'hybrid' (dense + BM25, fused by reciprocal rank).", "dense")
    min_score: float = _help("Drop dense matches with cosine similarity below this.", 0.2)
    attribution: str = _help("How answer sentences no passage supports are handled: 'strict' removes them, "
                             "'lenient' marks them (models that paraphrase), 'auto' is strict for the small "
                             "GGUF models and lenient for MedGemma and OpenAI-compatible servers.", "auto")
    coverage_gate: bool = _help("Say at once, without the model, when the passages found do not name the "
                                "question's subject.", True)
    chunk_size: int = _help("Characters per chunk when ingesting.", 800)
    chunk_overlap: int = _help("Characters shared by neighbouring chunks.", 150)
    context_chars: int = _help("Most characters of passages put into one prompt.", 2400)
    # 2 measured as good as whole passages by overlap (MedQuAD / K-QA token F1), with less misattribution and
    # a quarter fewer prompt tokens, which is what a classroom on 2 cores runs short of (README).
    focus_sentences: int = _help("Give the model each passage's first sentence and this many more, those "
                                 "sharing most terms with the question; 0 gives whole passages.", 2)

    def __post_init__(self) -> None:
        if not 0 <= self.k <= 20:
            raise InputError("k must be between 0 and 20.")
        if not 0 <= self.focus_sentences <= 20:
            raise InputError("focus_sentences must be between 0 and 20.")
        if self.mode not in ("hybrid", "dense"):
            raise InputError("retrieval mode must be 'hybrid' or 'dense'.")
        if self.attribution not in ("auto", "strict", "lenient"):
            raise InputError("attribution must be 'auto', 'strict' or 'lenient'.")


@dataclass(frozen=True)
class BackendConfig:
    """Which engine generates text, and with which model."""

    backend: str = _help("'gguf' (llama.cpp on CPU), 'hf' (transformers + PEFT) or 'openai' (a server).", "gguf")
    model: str = _help("GGUF file, Hub id or local folder; empty means the embedded Gemma 3 270M.", "")
    adapter: str = _help("LoRA adapter name under adapters/; 'auto' uses the shipped grounded-answer adapter "
                         "with the embedded model when it is there; empty for none.", "auto")
    n_ctx: int = _help("Context window in tokens (GGUF; per slot with the server engine).", 2048)
    gguf_engine: str = _help("'auto' (llama.cpp's server where scripts/setup.sh built it, else in process), "
                             "'server' (parallel slots, continuous batching) or 'inprocess' (one sequence at "
                             "a time) (GGUF).", "auto")
    threads: int = _help("CPU threads for generation (0 = all cores).", 0)
    prompt_style: str = _help(
        "'auto' (fewshot for the untuned embedded model, chat otherwise), 'chat' (Gemma turns), or "
        "'document' / 'fewshot' (layouts an untuned base model continues).", "auto")
    device: str = _help("'auto', 'cpu', 'cuda' or 'mps' (hf).", "auto")
    quantization: str = _help("'none', '4bit' or '8bit' (hf; needs CUDA and bitsandbytes).", "none")
    base_url: str = _help("OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1 (openai).", "")
    api_key: str = _help("API key for the server (openai).", "")
    api_model: str = _help("Model name the server expects (openai).", "")
    system_in_user_turn: bool = _help(
        "Fold the instruction into the first user turn, for servers whose chat template drops system "
        "messages (llama.cpp server's gemma format does) (openai).", False)


MIN_ADMIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class AccessConfig:
    """Who may do what when the app is public (a Space, a course page)."""

    public: bool = _help("Public mode: training, export, model switching and index changes need an admin "
                         "sign-in. On by default on a Hugging Face Space.", False)
    admin_token: str = _help("Token that signs a visitor in as admin (public mode); empty disables token sign-in.",
                             "")
    admin_users: tuple[str, ...] = _help("Hugging Face user names that are admins once logged in, separated by "
                                         "'|' (public mode on a Space with hf_oauth).", ())
    messages_per_minute: int = _help("Questions one visitor may ask per minute (public mode).", 10)
    upload_mb: int = _help("Largest upload in MB: an image, a training file, or documents for an index "
                           "(together).", 20)
    chat_concurrency: int = _help("Chat answers worked on at once; later ones wait in the queue. The app's default "
                                  "follows the engine: 12 llama-server slots, 1 for the in-process GGUF engine and "
                                  "hf, 4 for an OpenAI-compatible server.", 4)
    queue_size: int = _help("Requests that may wait in the queue before new ones are turned away.", 64)
    trusted_proxies: int = _help("Proxies in front of the app that append to X-Forwarded-For; 0 trusts the header "
                                 "not at all. 1 on a Hugging Face Space.", 0)
    admin_session_minutes: int = _help("Minutes an admin sign-in lasts (public mode).", 60)
    upload_max_age_minutes: int = _help("Minutes a visitor's uploaded image is kept (public mode).", 60)
    uploads_total_mb: int = _help("Most MB all visitors' uploads may take together; the oldest go first.", 500)
    frame_ancestors: str = _help("Sites allowed to embed /embed/ in an iframe (a CSP frame-ancestors list).", "*")
    on_space: bool = _help("Running on a Hugging Face Space (set from SPACE_ID): offers the Hugging Face sign-in "
                           "to admin_users.", False)

    def __post_init__(self) -> None:
        if self.public and self.admin_token and len(self.admin_token) < MIN_ADMIN_TOKEN_CHARS:
            raise InputError(f"MEDGEMMA_ADMIN_TOKEN has {len(self.admin_token)} characters; a public deployment "
                             f"needs at least {MIN_ADMIN_TOKEN_CHARS} (for example: python -c \"import secrets; "
                             f"print(secrets.token_urlsafe(24))\").")
        if not 0 <= self.trusted_proxies <= 10:
            raise InputError("trusted_proxies must be between 0 and 10.")
        if not 1 <= self.admin_session_minutes <= 7 * 24 * 60 or not 1 <= self.upload_max_age_minutes <= 7 * 24 * 60:
            raise InputError("admin_session_minutes and upload_max_age_minutes must be between 1 and 10080.")
        if not re.fullmatch(r"[A-Za-z0-9*.:/' -]{1,2000}", self.frame_ancestors):
            raise InputError("frame_ancestors must be a CSP source list such as * or 'self' https://example.org.")
        if not 1 <= self.uploads_total_mb <= 100_000:
            raise InputError("uploads_total_mb must be between 1 and 100000.")
        if not 1 <= self.messages_per_minute <= 10_000:
            raise InputError("messages_per_minute must be between 1 and 10000.")
        if not 1 <= self.upload_mb <= 1024:
            raise InputError("upload_mb must be between 1 and 1024.")
        if not 1 <= self.chat_concurrency <= 64 or not 1 <= self.queue_size <= 10_000:
            raise InputError("chat_concurrency must be 1-64 and queue_size 1-10000.")

    @property
    def upload_bytes(self) -> int:
        """`upload_mb` in bytes, in MB of 1024² bytes as Gradio's max_file_size counts them."""
        return self.upload_mb * 1024 * 1024


@dataclass(frozen=True)
class AppConfig:
    """Everything the app needs to start."""

    backend: BackendConfig = field(default_factory=BackendConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generation: GenerationParams = field(default_factory=GenerationParams)
    access: AccessConfig = field(default_factory=AccessConfig)
    cache_dir: Path = _help("Where converted models and built indices are cached.", ROOT / "cache")
    indices_dir: Path = _help("Folder holding the indices.", ROOT / "indices")
    adapters_dir: Path = _help("Folder holding LoRA adapters.", ROOT / "adapters")
    runs_dir: Path = _help("Folder holding evaluation runs.", ROOT / "runs")
    exports_dir: Path = _help("Folder holding exports, one subfolder per adapter.", ROOT / "exports")
    uploads_dir: Path = _help("Folder holding visitors' uploads, one subfolder per session.", ROOT / "uploads")
    log_questions: bool = _help("Keep the text of each question (with its door and verdict, never who asked) in "
                                "logs_dir for teaching review; off: no question text is kept anywhere.", False)
    logs_dir: Path = _help("Folder of the question log (one JSONL file per day).", ROOT / "logs")
    log_keep_days: int = _help("Days a question log file is kept before it is deleted.", 30)
    max_message_chars: int = _help("Longest question accepted.", 4000)
    triage_model: bool = _help("Run the learned triage model beside the safety rules, which stay as a floor; off: "
                               "the rules decide alone.", True)
    host: str = _help("Address the app listens on.", "127.0.0.1")
    port: int = _help("Port the app listens on.", 7860)

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise InputError(f"port must be between 1 and 65535, not {self.port}.")
        if not 1 <= self.max_message_chars <= 1_000_000:
            raise InputError("max_message_chars must be between 1 and 1000000.")
        if not 1 <= self.log_keep_days <= 3650:
            raise InputError("log_keep_days must be between 1 and 3650.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "AppConfig":
        """Build the config from MEDGEMMA_* variables (see README), everything else at its default."""
        env = dict(os.environ if env is None else env)
        cfg = cls()
        backend = _override(cfg.backend, env, "MEDGEMMA_")
        retrieval = _override(cfg.retrieval, env, "MEDGEMMA_")
        generation = _override(cfg.generation, env, "MEDGEMMA_")
        # A Space is public unless MEDGEMMA_PUBLIC says otherwise, and sits behind one proxy of its own.
        on_space = bool(env.get("SPACE_ID"))
        # As many answers at once as the chosen engine decodes together, unless MEDGEMMA_CHAT_CONCURRENCY says.
        from .backends import answers_at_once

        access = replace(cfg.access, public=on_space, trusted_proxies=int(on_space), on_space=on_space,
                         chat_concurrency=answers_at_once(backend))
        access = _override(access, env, "MEDGEMMA_")
        top = {}
        for name in ("cache_dir", "indices_dir", "adapters_dir", "runs_dir", "exports_dir", "uploads_dir", "max_message_chars",
                     "triage_model", "host", "port", "log_questions", "logs_dir", "log_keep_days"):
            key = "MEDGEMMA_" + name.upper()
            if key in env:
                top[name] = _convert(getattr(cfg, name), env[key], key)
        if "GRADIO_SERVER_NAME" in env and "host" not in top:
            top["host"] = env["GRADIO_SERVER_NAME"]
        if "GRADIO_SERVER_PORT" in env and "port" not in top:
            top["port"] = _convert(cfg.port, env["GRADIO_SERVER_PORT"], "GRADIO_SERVER_PORT")
        try:
            return replace(cfg, backend=backend, retrieval=retrieval, generation=generation, access=access, **top)
        except InputError as exc:
            raise InputError(f"{exc} (set by {', '.join('MEDGEMMA_' + k.upper() for k in top)})") from exc


def shown_path(path: Path) -> str:
    """`path` as a visitor may see it: relative to the project, or only its name when outside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT.resolve())) or "."
    except ValueError:
        return path.name


def field_help(cls: type) -> dict[str, str]:
    """Help text of each field of a config dataclass, for the CLI and the UI."""
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def _convert(current: Any, raw: str, key: str) -> Any:
    try:
        if isinstance(current, bool):
            word = raw.strip().lower()
            if word not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
                # A typo must not silently switch a setting such as public mode off.
                raise ValueError(word)
            return word in ("1", "true", "yes", "on")
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, Path):
            return Path(raw).expanduser()
        if isinstance(current, tuple):
            return tuple(s for s in raw.split("|") if s)
    except ValueError as exc:
        raise InputError(f"{key}={raw!r} is not a valid {type(current).__name__}.") from exc
    return raw


def _override(obj: Any, env: dict[str, str], prefix: str) -> Any:
    changes = {}
    keys = []
    for f in fields(obj):
        key = prefix + f.name.upper()
        if key in env:
            changes[f.name] = _convert(getattr(obj, f.name), env[key], key)
            keys.append(key)
    if not changes:
        return obj
    try:
        return replace(obj, **changes)
    except InputError as exc:  # the range checks name the setting; the reader set an environment variable
        raise InputError(f"{exc} (set by {', '.join(keys)})") from exc
