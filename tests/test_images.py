"""Image input: files are checked before use, multimodal models see them, text-only models say they did not."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from fakes import FakeBackend
from tiny_gemma import build_tiny_gemma, build_tiny_gemma_vision

from medgemma import images as images_mod
from medgemma.assistant import Assistant
from medgemma.config import GenerationParams
from medgemma.errors import InputError
from medgemma.images import load_image

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

GREEDY = GenerationParams(max_new_tokens=6, temperature=0.0, repeat_penalty=1.0)


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def test_load_image_reads_rgb(tmp_path: Path) -> None:
    img = load_image(picture(tmp_path / "a.png", (10, 200, 10)))
    assert img.mode == "RGB" and img.size == (40, 30)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_broken_image_files_are_input_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match="broken.png"):
        load_image(path)


def test_truncated_image_is_an_input_error(tmp_path: Path) -> None:
    whole = picture(tmp_path / "whole.png", (1, 2, 3), (64, 64)).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="cut.png"):
        load_image(cut)


def test_missing_oversized_and_too_many_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="not found"):
        load_image(tmp_path / "nope.png")
    path = picture(tmp_path / "big.png", (0, 0, 0), (50, 50))
    with pytest.raises(InputError, match="big.png is .* the limit is 10 bytes"):
        load_image(path, max_bytes=10)
    assert load_image(path, max_bytes=path.stat().st_size).size == (50, 50)
    monkeypatch.setattr(images_mod, "MAX_PIXELS", 100)
    with pytest.raises(InputError, match="megapixels"):
        load_image(path)


def test_text_only_backend_answers_and_flags_ignored_image(tmp_path: Path) -> None:
    backend = FakeBackend()
    assistant = Assistant(backend, None)
    reply = assistant.answer("What is asthma?", rag=False, images=[str(picture(tmp_path / "x.png", (9, 9, 9)))])
    assert "images_ignored" in reply.flags
    assert all("images" not in m for m in backend.calls[-1])


def test_multimodal_backend_receives_image_and_broken_file_is_refused_first(tmp_path: Path) -> None:
    backend = FakeBackend(vision=True)
    assistant = Assistant(backend, None)
    good = str(picture(tmp_path / "x.png", (9, 9, 9)))
    reply = assistant.answer("What does this X-ray show?", rag=False, images=[good])
    assert "images_ignored" not in reply.flags
    assert backend.calls[-1][-1]["images"] == [good]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"junk")
    calls = len(backend.calls)
    with pytest.raises(InputError):
        assistant.answer("What does this X-ray show?", rag=False, images=[str(bad)])
    assert len(backend.calls) == calls  # the model was not called


@pytest.fixture(scope="module")
def vision_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return build_tiny_gemma_vision(tmp_path_factory.mktemp("tiny-vision") / "model")


def test_hf_multimodal_model_sees_the_image(vision_model: Path, tmp_path: Path) -> None:
    from medgemma.backends.hf import HFBackend

    backend = HFBackend(vision_model, device="cpu")
    assert backend.reads_images()
    seen: list[dict] = []
    generate = backend.model.generate

    def spy(**kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs)
        return generate(**kwargs)

    backend.model.generate = spy
    red = str(picture(tmp_path / "red.png", (250, 0, 0)))
    messages = [{"role": "user", "content": "What is asthma?", "images": [red]}]
    streamed = "".join(backend.stream(messages, GREEDY))
    assert streamed == backend.generate(messages, GREEDY)
    kwargs = seen[0]
    assert tuple(kwargs["pixel_values"].shape) == (1, 3, 28, 28)
    image_id = backend.model.config.image_token_index
    assert int((kwargs["input_ids"] == image_id).sum()) == 4  # the processor expanded the image marker
    text_only = [{"role": "user", "content": "What is asthma?"}]
    backend.generate(text_only, GREEDY)
    assert "pixel_values" not in seen[-1]
    backend.close()
    assert backend.model is None and backend.processor is None


def test_hf_text_only_model_ignores_images_with_a_warning(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from medgemma.backends.hf import HFBackend

    backend = HFBackend(build_tiny_gemma(tmp_path / "text"), device="cpu")
    assert not backend.reads_images()
    plain = [{"role": "user", "content": "What is asthma?"}]
    with_image = [dict(plain[0], images=[str(picture(tmp_path / "x.png", (1, 1, 1)))])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = backend.generate(with_image, GREEDY)
    assert any("text only" in str(w.message) for w in caught)
    assert answer == backend.generate(plain, GREEDY)
    backend.close()
