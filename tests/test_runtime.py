"""Switching index and backend while running: failures explain themselves and change nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fakes import FakeBackend, HashEmbedder

from medgemma.assistant import Assistant
from medgemma.config import AppConfig, BackendConfig
from medgemma.errors import InputError, MedGemmaError
from medgemma.rag import indexes
from medgemma.runtime import Runtime


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    embedder = HashEmbedder()
    monkeypatch.setattr(indexes, "shared_embedder", lambda name=None: embedder)
    cfg = replace(AppConfig(), indices_dir=tmp_path / "indices", adapters_dir=tmp_path / "adapters")
    notes = tmp_path / "notes.md"
    notes.write_text("# Asthma\n\nAsthma inhalers: relievers open the airways quickly.\n")
    indexes.build_index([notes], "notes", cfg)
    return Runtime.serving(cfg, Assistant(FakeBackend(), indexes.open_index("notes", cfg)))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_binary_upload_is_refused_and_indices_are_untouched(runtime: Runtime, tmp_path: Path) -> None:
    before = _snapshot(runtime.cfg.indices_dir)
    blob = tmp_path / "scan.txt"
    blob.write_bytes(b"\x00\x01\x02\xff" * 100)
    with pytest.raises(InputError, match="scan.txt"):
        indexes.build_index([blob], "notes", runtime.cfg)
    assert _snapshot(runtime.cfg.indices_dir) == before


def test_switch_to_missing_or_escaping_index_changes_nothing(runtime: Runtime) -> None:
    before = runtime.assistant()
    for name in ("nothing-here", "../notes"):
        with pytest.raises(MedGemmaError):
            runtime.switch_index(name)
    assert runtime.assistant() is before and runtime.cfg.retrieval.index != "nothing-here"


def test_switch_index_keeps_backend(runtime: Runtime, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("Vaccines train the immune system.")
    indexes.build_index([other], "other", runtime.cfg)
    backend = runtime.assistant().backend
    line = runtime.switch_index("other")
    assert "other" in line and runtime.assistant().backend is backend
    assert runtime.assistant().retriever is not None and len(runtime.assistant().retriever) == 1


def test_failed_backend_switch_keeps_serving(runtime: Runtime) -> None:
    before = runtime.assistant()
    message = runtime.switch_backend(BackendConfig(backend="gguf", model="/no/such/model.gguf"))
    assert "Could not switch" in message
    assert runtime.assistant() is before and not before.backend.closed  # type: ignore[attr-defined]


def test_unknown_adapter_is_a_clear_error(runtime: Runtime) -> None:
    message = runtime.switch_backend(BackendConfig(backend="gguf", adapter="../../etc"))
    assert "not allowed" in message or "No adapter" in message


def test_openai_settings_come_from_the_environment() -> None:
    from medgemma.backends import load_backend

    cfg = AppConfig.from_env({"MEDGEMMA_BACKEND": "openai", "MEDGEMMA_BASE_URL": "http://127.0.0.1:9/v1",
                              "MEDGEMMA_SYSTEM_IN_USER_TURN": "1"})
    backend = load_backend(cfg)
    assert backend.name == "openai" and backend.system_in_user_turn  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="base_url"):
        load_backend(AppConfig.from_env({"MEDGEMMA_BACKEND": "openai"}))


def test_auto_adapter_is_the_shipped_one_only_where_it_applies(tmp_path: Path) -> None:
    from medgemma.backends import SHIPPED_ADAPTER, chosen_adapter

    auto = BackendConfig(adapter="auto")
    assert chosen_adapter(auto, tmp_path) == ""  # nothing shipped: the base model answers
    folder = tmp_path / SHIPPED_ADAPTER
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_bytes(b"x")
    assert chosen_adapter(replace(auto, backend="hf"), tmp_path) == SHIPPED_ADAPTER
    assert chosen_adapter(auto, tmp_path) == ""  # gguf needs the GGUF LoRA
    (folder / "adapter.gguf").write_bytes(b"x")
    assert chosen_adapter(auto, tmp_path) == SHIPPED_ADAPTER
    assert chosen_adapter(replace(auto, model="/some/other.gguf"), tmp_path) == ""  # made for the 270M only
    assert chosen_adapter(replace(auto, backend="openai"), tmp_path) == ""
    assert chosen_adapter(replace(auto, adapter=""), tmp_path) == ""
    assert chosen_adapter(replace(auto, adapter="mine"), tmp_path) == "mine"


def test_runtime_builds_its_parts_through_the_given_seams(tmp_path: Path) -> None:
    """The backend, index and triage model come from the callables given, lazily and once; a backend switch
    goes through the same seam and closes the old backend."""
    built: list[FakeBackend] = []
    opened: list[str] = []

    def make_backend(cfg: AppConfig) -> FakeBackend:
        built.append(FakeBackend())
        return built[-1]

    def open_index(name: str, cfg: AppConfig):  # type: ignore[no-untyped-def]
        opened.append(name)
        return object()

    rt = Runtime(AppConfig(), make_backend=make_backend, open_index=open_index, triage=lambda: None)
    assert not rt.ready and not built and not opened
    first = rt.assistant()
    assert rt.assistant() is first and len(built) == 1 and opened == [rt.cfg.retrieval.index]
    assert first.backend is built[0]
    rt.switch_backend(replace(rt.cfg.backend, n_ctx=1024))
    assert len(built) == 2 and rt.assistant().backend is built[1] and built[0].closed
    rt.close()
