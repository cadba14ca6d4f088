"""The Space folder: what it holds and leaves out, its metadata, its pins, and how it is (re)written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from medgemma import space
from medgemma.__main__ import main
from medgemma.files import sha256_file
from medgemma.config import ROOT, AppConfig
from medgemma.errors import InputError

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)$")


def front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text[4:text.index("\n---\n", 4)])


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = PIN.match(line)
            assert match, line
            out[match.group(1).lower()] = match.group(2)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("space") / "cpu"
    return out, space.build_space(out)


def test_metadata_is_a_docker_space_with_oauth(built: tuple[Path, list[Path]]) -> None:
    out, _ = built
    meta = front_matter(out / "README.md")
    assert meta["sdk"] == "docker" and meta["app_port"] == 7860 and meta["hf_oauth"] is True
    assert meta["title"] and meta["emoji"] and meta["colorFrom"] and meta["colorTo"]
    assert len(meta["short_description"]) <= 60  # the Hub's limit
    assert "suggested_hardware" not in meta
    dockerfile = (out / "Dockerfile").read_text(encoding="utf-8")
    assert f"EXPOSE {meta['app_port']}" in dockerfile and f"MEDGEMMA_PORT={meta['app_port']}" in dockerfile
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in dockerfile and "useradd -m -u 1000 user" in dockerfile
    assert "\nUSER user\n" in dockerfile and "download.pytorch.org/whl/cpu" in dockerfile
    assert "\n# ENV MEDGEMMA_BACKEND=hf" in dockerfile  # the GPU defaults stay off on the CPU build


def test_holds_the_app_and_the_adapter_and_nothing_else(built: tuple[Path, list[Path]]) -> None:
    out, written = built
    for rel in ("app.py", "Dockerfile", "README.md", "requirements.txt", ".dockerignore", space.MANIFEST,
                "medgemma/__init__.py", "medgemma/corpus/passages.jsonl", "medgemma/safety/triage_model/triage.json",
                "adapters/grounded-270m/adapter_config.json", "adapters/grounded-270m/adapter_model.safetensors"):
        assert (out / rel).is_file(), rel
    files = [p for p in out.rglob("*") if p.is_file()]
    rels = {p.relative_to(out).as_posix() for p in files}
    assert set(written) == set(files)
    for rel in rels:
        parts = rel.split("/")
        assert parts[0] not in {"tests", ".venv", ".git", "cache", "indices", "runs", "exports", "uploads",
                                "bench", "scripts", "space"}, rel
        assert parts[0] != "docs" or parts[1] == "governance", rel
        assert "__pycache__" not in parts and "checkpoints" not in parts, rel
        assert not rel.endswith((".pyc", ".tmp")), rel
    adapter_files = {r for r in rels if r.startswith("adapters/")}
    assert adapter_files and all(r.startswith("adapters/grounded-270m/") for r in adapter_files)
    total = sum(p.stat().st_size for p in files)
    assert total < 60e6, f"{total / 1e6:.1f} MB"
    record = json.loads((out / "adapters/grounded-270m/lineage.json").read_text())
    assert record["adapter_sha256"] == sha256_file(out / "adapters/grounded-270m/adapter_model.safetensors")
    assert record["base_model"]["sha256"] and record["data"]["recipe"]["name"] == "grounded"


def test_package_is_a_byte_copy_and_manifest_matches(built: tuple[Path, list[Path]]) -> None:
    out, _ = built
    sources = [p for p in (ROOT / "medgemma").rglob("*.py") if "__pycache__" not in p.parts]
    assert sources
    for src in sources:
        copy = out / src.relative_to(ROOT)
        assert copy.read_bytes() == src.read_bytes(), src
    manifest = json.loads((out / space.MANIFEST).read_text(encoding="utf-8"))
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {space.MANIFEST}
    for rel, f in listed.items():
        assert f["sha256"] == sha256_file(out / rel) and f["bytes"] == (out / rel).stat().st_size
    assert manifest["variant"] == "cpu" and "git_commit" in manifest


def test_requirements_keep_the_repository_pins(built: tuple[Path, list[Path]]) -> None:
    out, _ = built
    repo, ship = pins(ROOT / "requirements.txt"), pins(out / "requirements.txt")
    assert set(ship) == set(repo) - set(space.DEV_ONLY)
    assert all(ship[name] == repo[name] for name in ship)
    assert re.search(r"^gradio\[oauth\]==", (out / "requirements.txt").read_text(), re.M)  # the login button


def test_gpu_variant(tmp_path: Path) -> None:
    out = tmp_path / "gpu"
    space.build_space(out, gpu=True)
    meta = front_matter(out / "README.md")
    assert meta["sdk"] == "docker" and meta["suggested_hardware"] == space.GPU_HARDWARE
    assert space.GPU_MODEL in meta["models"]
    dockerfile = (out / "Dockerfile").read_text(encoding="utf-8")
    assert "\nENV MEDGEMMA_BACKEND=hf MEDGEMMA_MODEL=google/medgemma-4b-it MEDGEMMA_DEVICE=cuda\n" in dockerfile
    assert "ARG TORCH_INDEX=https://pypi.org/simple" in dockerfile and "whl/cpu" not in dockerfile
    repo, ship = pins(ROOT / "requirements.txt"), pins(out / "requirements.txt")
    assert "bitsandbytes" in ship and all(ship[n] == repo[n] for n in ship if n != "bitsandbytes")
    assert json.loads((out / space.MANIFEST).read_text())["variant"] == "gpu"


@pytest.mark.parametrize("target", [ROOT, ROOT.parent, ROOT / "medgemma", ROOT / "medgemma" / "space",
                                    ROOT / "adapters" / "x", ROOT / "space" / "out", ROOT / "tests" / "out"])
def test_refuses_the_repository_and_its_folders(target: Path) -> None:
    with pytest.raises(InputError):
        space.build_space(target)


def test_foreign_folder_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="--force"):
        space.build_space(out)
    assert (out / "notes.txt").read_text() == "keep me"
    space.build_space(out, force=True)
    assert not (out / "notes.txt").exists() and (out / space.MANIFEST).is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError):
        space.build_space(tmp_path / "file", force=True)


def test_rebuild_replaces_a_previous_build_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "site"
    space.build_space(out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.stat().st_size < 1e6}
    (out / "stale.txt").write_text("from an older build")  # a previous build's extra file goes with it

    real = space._copy_file
    calls = {"n": 0}

    def failing(src: Path, dst: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(space, "_copy_file", failing)
    with pytest.raises(OSError, match="disk full"):
        space.build_space(out)
    for rel, data in before.items():  # the old build is untouched
        assert (out / rel).read_bytes() == data
    assert (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no half-built folder left beside it

    monkeypatch.setattr(space, "_copy_file", real)
    space.build_space(out)
    assert not (out / "stale.txt").exists() and (out / "app.py").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_cli_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["space", "build", str(out), "--gpu"]) == 0
    assert "MB" in capsys.readouterr().out and front_matter(out / "README.md")["suggested_hardware"]
    assert main(["space", "build", str(ROOT / "medgemma" / "x")]) == 2  # an InputError, reported


def test_prepare_builds_the_default_index_and_the_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import medgemma.assets
    import medgemma.rag.indexes

    seen: list[str] = []
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"x" * 10)
    monkeypatch.setattr(medgemma.rag.indexes, "open_index",
                        lambda name, cfg, progress=False: seen.append(name) or [1, 2])
    monkeypatch.setattr(medgemma.assets, "default_gguf", lambda cache_dir: seen.append(str(cache_dir)) or gguf)
    cfg = AppConfig.from_env({"MEDGEMMA_CACHE_DIR": str(tmp_path / "c"), "MEDGEMMA_INDICES_DIR": str(tmp_path)})
    line = space.prepare(cfg)
    assert seen == ["default", str(tmp_path / "c")] and "2 passages" in line


def test_built_app_imports_without_loading_a_model(built: tuple[Path, list[Path]], tmp_path: Path) -> None:
    out, _ = built
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDGEMMA_") and k not in ("PYTHONPATH", "SPACE_ID")}
    dirs = {name: tmp_path / name for name in ("indices", "cache", "runs", "uploads")}
    env.update({f"MEDGEMMA_{name.upper()}_DIR": str(path) for name, path in dirs.items()})
    env.update(SPACE_ID="someone/medgemma-studio", HF_HUB_OFFLINE="1")  # as on a Space: public mode
    code = "import app, medgemma; print(medgemma.__file__); print(type(app.runtime).__name__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=out, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert Path(lines[-2]).resolve().is_relative_to(out.resolve())  # the built copy, not the repository
    assert lines[-1] == "Runtime"
    # Building the app loads nothing: no index is built and no model is assembled until it serves.
    assert not any(dirs["cache"].rglob("*.gguf")) and not any(dirs["indices"].rglob("vectors*"))
