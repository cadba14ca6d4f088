"""transformers models (a local folder or a cached Hub id) with PEFT LoRA adapters that switch at run time.

Prompts are rendered by `medgemma.prompts.render`, exactly as the GGUF backend renders them (never the
tokenizer's chat template), so both engines see the same text. Generation runs in a worker thread that
feeds a `TextIteratorStreamer`; stop strings are cut from the decoded text here, with the same helpers the
other backends use, and a `StoppingCriteria` ends `generate` as soon as the answer is stopped, cut or
abandoned. One lock serialises generation: one model in memory, many users.

A multimodal checkpoint (one whose config has a `vision_config`, such as MedGemma 4B) is loaded with its
processor, and a message's `images` are placed at the start of that turn, where Gemma 3 expects them.
"""

from __future__ import annotations

import gc
import importlib.util
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..config import GenerationParams
from ..errors import BackendError, InputError, MissingDependency, require
from ..prompts import render, stops_for
from ..types import Message
from .base import BackendInfo, ChatBackend, StopSignal, option_prefix, until_stop

DEVICES = ("auto", "cpu", "cuda", "mps")
QUANTIZATIONS = ("none", "4bit", "8bit")
# llama-cpp-python's default for create_completion; the same here so sampled answers are comparable.
TOP_K = 40


@dataclass(frozen=True)
class DevicePlan:
    """Where the model runs and in which number format."""

    device: str  # "cpu", "cuda" or "mps"
    dtype: str  # torch dtype name of the weights that stay in floating point: float32/bfloat16/float16
    precision: str  # what the status line shows: fp32, bf16, fp16, nf4 or int8
    quantization: str = "none"


def plan_device(device: str = "auto", quantization: str = "none") -> DevicePlan:
    """Pick device and precision: CUDA in bf16 where the GPU supports it (else fp16), Apple MPS in fp16,
    the CPU in fp32. 4-bit (NF4) and 8-bit weights need CUDA and bitsandbytes."""
    torch = require("torch", "torch", "The hf backend")
    if device not in DEVICES:
        raise InputError(f"Unknown device {device!r}; choose one of: {', '.join(DEVICES)}.")
    if quantization not in QUANTIZATIONS:
        raise InputError(f"Unknown quantization {quantization!r}; choose one of: {', '.join(QUANTIZATIONS)}.")
    cuda = bool(torch.cuda.is_available())  # type: ignore[attr-defined]
    mps_backend = getattr(torch.backends, "mps", None)  # type: ignore[attr-defined]
    mps = bool(mps_backend is not None and mps_backend.is_available())
    if device == "cuda" and not cuda:
        raise InputError("device='cuda' was asked for but no CUDA GPU is visible; use device='auto' or 'cpu'.")
    if device == "mps" and not mps:
        raise InputError("device='mps' was asked for but Apple MPS is not available; use device='auto' or 'cpu'.")
    chosen = device if device != "auto" else ("cuda" if cuda else "mps" if mps else "cpu")
    if quantization != "none":
        if chosen != "cuda":
            raise InputError(
                f"quantization={quantization!r} needs a CUDA GPU (bitsandbytes), and this run uses {chosen}. "
                "Use quantization='none' here, or the gguf backend for a small quantized model on the CPU."
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise MissingDependency("bitsandbytes", f"quantization={quantization!r}")
    if chosen == "cuda":
        # Gemma's activations overflow fp16's range in places; bf16 keeps fp32's range, so prefer it.
        bf16 = bool(torch.cuda.is_bf16_supported())  # type: ignore[attr-defined]
        dtype, label = ("bfloat16", "bf16") if bf16 else ("float16", "fp16")
        if quantization == "4bit":
            label = "nf4"
        elif quantization == "8bit":
            label = "int8"
        return DevicePlan("cuda", dtype, label, quantization)
    if chosen == "mps":
        return DevicePlan("mps", "float16", "fp16")
    return DevicePlan("cpu", "float32", "fp32")


def quantization_config(plan: DevicePlan) -> Any:
    from transformers import BitsAndBytesConfig

    import torch

    if plan.quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, plan.dtype),
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def check_adapter_folder(path: Path) -> None:
    """Refuse anything but a PEFT adapter saved as safetensors (a .bin adapter is a pickle)."""
    if not path.is_dir():
        raise InputError(f"Adapter folder {path} does not exist.")
    if not (path / "adapter_config.json").is_file():
        raise InputError(f"{path} is not a PEFT adapter: adapter_config.json is missing.")
    if not (path / "adapter_model.safetensors").is_file():
        hint = " It holds adapter_model.bin, a pickle, which is never loaded: re-save it with safetensors." if (
            path / "adapter_model.bin").exists() else ""
        raise InputError(f"{path} has no adapter_model.safetensors.{hint}")


class HFBackend(ChatBackend):
    """A transformers causal LM on CPU, CUDA or MPS, with at most one LoRA adapter, given at construction."""

    name = "hf"

    def __init__(
        self,
        model: str | Path,
        device: str = "auto",
        quantization: str = "none",
        prompt_style: str = "chat",
        adapter_path: Path | None = None,
        adapter_name: str = "",
        threads: int = 0,
    ) -> None:
        self.model_id = str(model)
        self.threads = threads
        local = Path(self.model_id).expanduser()
        # A folder on disk is read from disk only. Anything else is a Hub id, resolved by huggingface_hub,
        # which honours HF_HUB_OFFLINE (the cache only) and otherwise may download.
        self.local = local.is_dir()
        if self.local:
            self.model_id = str(local)
        elif self.model_id.startswith((".", "/", "~")) or self.model_id.count("/") > 1:
            raise InputError(f"Model folder {self.model_id} does not exist.")
        self.plan = plan_device(device, quantization)  # fails fast on settings this machine cannot honour
        self.prompt_style = prompt_style
        self.model: Any = None
        self.tokenizer: Any = None
        self.processor: Any = None  # set for multimodal models only
        # One adapter per backend, given here: another adapter is another backend (the runtime builds it).
        self.adapter: tuple[str, Path] | None = None
        if adapter_path is not None:
            check_adapter_folder(Path(adapter_path))
            self.adapter = (adapter_name or Path(adapter_path).name, Path(adapter_path))
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()

    # -- loading --------------------------------------------------------------------------------------

    def _load(self) -> tuple[Any, Any]:
        with self._load_lock:
            if self.model is None:
                self._load_locked()
            return self.model, self.tokenizer

    def _load_locked(self) -> None:
        require("transformers", "transformers", "The hf backend")
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

        where: dict[str, Any] = {"trust_remote_code": False}
        if self.local:
            where["local_files_only"] = True
        try:
            config = AutoConfig.from_pretrained(self.model_id, **where)
            multimodal = getattr(config, "vision_config", None) is not None
            processor = AutoProcessor.from_pretrained(self.model_id, **where) if multimodal else None
            tokenizer = processor.tokenizer if processor is not None else AutoTokenizer.from_pretrained(
                self.model_id, **where)
            kwargs: dict[str, Any] = dict(where, dtype=getattr(torch, self.plan.dtype), use_safetensors=True)
            # Attention: transformers 5 picks SDPA by default, which computes exactly what eager attention
            # computes for Gemma 3 (no attention-logit soft-capping) and is faster. Gemma 2 style soft-capping
            # is the one thing SDPA cannot do, so only such models are sent to eager attention. (The old
            # "train Gemma3 with eager" warning was about training and is gone from transformers 5.)
            if getattr(config.get_text_config(), "attn_logit_softcapping", None):
                kwargs["attn_implementation"] = "eager"
            if self.plan.quantization != "none":
                kwargs["quantization_config"] = quantization_config(self.plan)
                kwargs["device_map"] = {"": 0}
            loader = AutoModelForImageTextToText if multimodal else AutoModelForCausalLM
            model = loader.from_pretrained(self.model_id, **kwargs)
        except (OSError, ValueError) as exc:
            where_text = "folder" if self.local else "Hub id (offline: only the local Hugging Face cache is read)"
            raise BackendError(f"transformers could not load the model {where_text} {self.model_id}: {exc}") from exc
        if self.plan.device == "cpu" and self.threads > 0:
            # torch has one intra-op thread pool per process, so this applies to everything torch does here.
            torch.set_num_threads(self.threads)
        if self.plan.quantization == "none":
            model.to(self.plan.device)
        model.eval()
        self.model, self.tokenizer, self.processor = model, tokenizer, processor
        if self.adapter is not None:
            self._add_adapter(*self.adapter)

    def _add_adapter(self, name: str, path: Path) -> None:
        require("peft", "peft", "LoRA adapters in the hf backend")
        try:
            # transformers' PEFT integration keeps the model a plain PreTrainedModel, so generate() is
            # unchanged; the folder was checked to hold safetensors, and use_safetensors forbids a fallback.
            # (local_files_only goes through adapter_kwargs: transformers 5.23 rejects it as a direct keyword.)
            self.model.load_adapter(str(path), adapter_name=name, use_safetensors=True,
                                    adapter_kwargs={"local_files_only": True})
        except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: an adapter_config.json that is not an object or has fields of the wrong type.
            raise BackendError(f"Could not load adapter {name!r} from {path}: {exc}") from exc

    # -- generation -----------------------------------------------------------------------------------

    def reads_images(self) -> bool:
        """True for a multimodal checkpoint (loads the model to find out)."""
        self._load()
        return self.processor is not None

    @property
    def n_ctx(self) -> int:
        """The model's context window, from its config (8192 when the config does not say); loads the model."""
        model, _ = self._load()
        return int(getattr(model.config.get_text_config(), "max_position_embeddings", 0) or 8192)

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` under this model's tokenizer (loads the model, so it also warms it up)."""
        _, tokenizer = self._load()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(
        self, messages: Sequence[Message], params: GenerationParams, stop: StopSignal | None = None
    ) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stops = list(stops_for(self.prompt_style)) + [s for s in params.stop if s]
        with self._gen_lock:
            model, tokenizer = self._load()
            messages, images = self._place_images(messages)
            prompt = render(messages, self.prompt_style)
            if images:
                enc = self.processor(text=prompt, images=images, return_tensors="pt", add_special_tokens=True)
            else:
                enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=True)
            n_prompt = int(enc["input_ids"].shape[1])
            n_ctx = self.n_ctx
            room = n_ctx - n_prompt
            if room < 8:
                raise InputError(
                    f"The prompt has {n_prompt} tokens and the context window {n_ctx}: "
                    "ask a shorter question or use fewer passages."
                )
            halt = threading.Event()

            class Halt(StoppingCriteria):
                """Ends generate() when the consumer stopped, cut at a stop string or went away."""

                def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                    done = halt.is_set() or (stop is not None and stop.is_set)
                    return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

            # Special tokens stay in the text so <end_of_turn> reaches the stop-string cut below even for a
            # model whose generation config does not list it as an end token.
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=False)
            sample = params.temperature > 0
            gen_kwargs: dict[str, Any] = dict(
                input_ids=enc["input_ids"].to(model.device),
                attention_mask=enc["attention_mask"].to(model.device),
                generation_config=self._generation_config(model, tokenizer, params, min(params.max_new_tokens, room)),
                stopping_criteria=StoppingCriteriaList([Halt()]),
                streamer=streamer,
            )
            if images:
                # The processor's pixel values are fp32; the vision tower runs in the model's precision.
                gen_kwargs["pixel_values"] = enc["pixel_values"].to(model.device, dtype=model.dtype)
                if "token_type_ids" in enc:
                    gen_kwargs["token_type_ids"] = enc["token_type_ids"].to(model.device)
            failure: list[BaseException] = []

            def work() -> None:
                try:
                    with torch.inference_mode():
                        if sample:
                            torch.manual_seed(params.seed)  # the lock makes the global generator ours
                        model.generate(**gen_kwargs)
                except BaseException as exc:  # noqa: BLE001 - reported to the consumer below
                    failure.append(exc)
                    streamer.end()  # wake the consumer

            worker = threading.Thread(target=work, name="hf-generate", daemon=True)
            worker.start()
            try:
                yield from until_stop(streamer, stops, stop)
                if failure:
                    raise BackendError(f"Generation with {self._label()} failed: {failure[0]}") from failure[0]
            finally:
                halt.set()  # also when the consumer closed the generator early
                worker.join()

    def option_logprobs(self, messages: Sequence[Message], options: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each option after the prompt, all options in one batch."""
        import torch

        prompt = render(messages, self.prompt_style)
        sep = option_prefix(prompt)
        with self._gen_lock:
            model, tokenizer = self._load()
            ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
            conts = [tokenizer(sep + o, add_special_tokens=False)["input_ids"] for o in options]
            width = len(ids) + max((len(c) for c in conts), default=0)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            rows = [ids + c + [pad] * (width - len(ids) - len(c)) for c in conts]
            mask = [[1] * (len(ids) + len(c)) + [0] * (width - len(ids) - len(c)) for c in conts]
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor(rows, device=model.device),
                               attention_mask=torch.tensor(mask, device=model.device)).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            # The token at position t is predicted by the logits at t - 1.
            return [
                float(sum(logp[i, len(ids) + j - 1, tok] for j, tok in enumerate(c)))
                for i, c in enumerate(conts)
            ]

    def _place_images(self, messages: Sequence[Message]) -> tuple[list[Message], list[Any]]:
        """Messages with one image marker per attached image, and the decoded images, in prompt order.

        A text-only model gets the messages without their images (the Assistant tells the reader).
        """
        if not any(m.get("images") for m in messages):
            return list(messages), []
        if self.processor is None:
            warnings.warn(f"{self._label()} reads text only; the attached images were not used.", stacklevel=3)
            return [{"role": m["role"], "content": m["content"]} for m in messages], []
        from ..images import load_image

        placed: list[Message] = []
        images: list[Any] = []
        for m in messages:
            paths = m.get("images") or []
            images.extend(load_image(p) for p in paths)  # the Assistant checked their size
            marks = "".join(f"{self.processor.boi_token}\n" for _ in paths)
            placed.append({"role": m["role"], "content": marks + m["content"]})
        return placed, images

    def _generation_config(self, model: Any, tokenizer: Any, params: GenerationParams, max_new: int) -> Any:
        from transformers import GenerationConfig

        eos = {tokenizer.eos_token_id}
        turn_end = tokenizer.convert_tokens_to_ids("<end_of_turn>")
        if isinstance(turn_end, int) and turn_end != tokenizer.unk_token_id:
            eos.add(turn_end)
        configured = model.generation_config.eos_token_id
        eos.update(configured if isinstance(configured, list) else [configured])
        eos.discard(None)
        sample = params.temperature > 0
        # A fresh config, so sampling defaults shipped with a checkpoint cannot turn greedy decoding random.
        cfg = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=sample,
            repetition_penalty=params.repeat_penalty,
            eos_token_id=sorted(eos),
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos),
            bos_token_id=tokenizer.bos_token_id,
        )
        if sample:
            cfg.temperature = params.temperature
            cfg.top_p = params.top_p
            cfg.top_k = TOP_K
        return cfg

    # -- status and teardown --------------------------------------------------------------------------

    def _label(self) -> str:
        return Path(self.model_id).name if self.local else self.model_id

    def info(self) -> BackendInfo:
        return BackendInfo(
            backend=self.name,
            model=self._label(),
            device=self.plan.device,
            precision=self.plan.precision,
            adapter=self.adapter[0] if self.adapter else "",
            memory_mb=self._memory_mb(),
        )

    def _memory_mb(self) -> float:
        if self.plan.device == "cuda":
            import torch

            return float(torch.cuda.max_memory_allocated()) / 1e6
        try:
            import psutil

            return float(psutil.Process().memory_info().rss) / 1e6
        except ImportError:
            return 0.0

    def close(self) -> None:
        with self._gen_lock, self._load_lock:
            if self.model is None:
                return
            self.model = None
            self.tokenizer = None
            self.processor = None
            gc.collect()
            if self.plan.device == "cuda":
                import torch

                torch.cuda.empty_cache()
