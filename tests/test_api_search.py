"""`/v1/embeddings` and `/v1/search` on the app built as app.py builds it, spoken to with the official `openai`
client over a socket: vectors and usage, passages with sources, bad input and public-mode limits."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import openai
import pytest
from conftest import PASSAGES, served
from fakes import FakeBackend, HashEmbedder

from medgemma import tools
from medgemma.access import Access
from medgemma.config import AccessConfig, AppConfig
from medgemma.rag.retriever import Retriever
from medgemma.runtime import Runtime
from medgemma.ui.server import build_app


def start(tmp_path: Path, access_cfg: AccessConfig) -> Iterator[tuple[openai.OpenAI, httpx.Client, FakeBackend]]:
    cfg = replace(AppConfig(), access=access_cfg, uploads_dir=tmp_path / "uploads", indices_dir=tmp_path / "indices")
    Retriever.build(PASSAGES, tmp_path / "indices" / "default", HashEmbedder())  # type: ignore[arg-type]
    Retriever.build(PASSAGES[:2], tmp_path / "indices" / "neuro", HashEmbedder())  # type: ignore[arg-type]
    backend = FakeBackend()
    runtime = Runtime(cfg, make_backend=lambda _: backend,
                      open_index=lambda name, c: Retriever.load(c.indices_dir / name, HashEmbedder()),  # type: ignore[arg-type]
                      triage=lambda: None)
    with served(build_app(runtime, Access(access_cfg, cfg.uploads_dir))) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0), http, backend


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[openai.OpenAI, httpx.Client, FakeBackend]]:
    yield from start(tmp_path, AccessConfig())


@pytest.fixture
def public_api(tmp_path: Path) -> Iterator[tuple[openai.OpenAI, httpx.Client, FakeBackend]]:
    yield from start(tmp_path, AccessConfig(public=True, admin_token="a-long-admin-token-for-tests",
                                            messages_per_minute=3))


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"].strip() and error["type"] and error["code"] and "Traceback" not in response.text
    return error  # type: ignore[no-any-return]


def test_embeddings_match_the_index_embedder(api: Any) -> None:
    client, _, backend = api
    texts = ["Asthma causes wheezing", "stroke signs: face drooping"]
    result = client.embeddings.create(model="anything", input=texts)  # the client asks for base64
    assert result.model == "hash-bow" and [d.index for d in result.data] == [0, 1]
    expected = HashEmbedder().encode(texts)
    got = np.array([d.embedding for d in result.data], dtype=np.float32)
    assert np.allclose(got, expected, atol=1e-6)
    assert all(math.isclose(float(np.linalg.norm(v)), 1.0, rel_tol=1e-5) for v in got)
    assert result.usage.prompt_tokens == result.usage.total_tokens == 3 + 4
    floats = client.embeddings.create(model="x", input="Asthma causes wheezing", encoding_format="float")
    assert np.allclose(floats.data[0].embedding, expected[0], atol=1e-6)
    assert backend.calls == []  # no language model runs for embeddings


def test_search_returns_passages_with_sources(api: Any) -> None:
    client, http, _ = api
    found = client.post("/search", body={"query": "wheezing and cough", "k": 2}, cast_to=object)
    assert found["object"] == "list" and found["index"] == "default"  # type: ignore[index]
    passages = found["passages"]  # type: ignore[index]
    assert 1 <= len(passages) <= 2 and passages[0]["id"] == "asthma-1" and passages[0]["url"].startswith("https://")
    assert [p["n"] for p in passages] == list(range(1, len(passages) + 1))
    assert passages == sorted(passages, key=lambda p: -p["score"])
    other = http.post("/v1/search", json={"query": "stroke face", "index": "neuro", "k": 20}).json()
    assert other["index"] == "neuro" and {p["id"] for p in other["passages"]} <= {"stroke-1", "asthma-1"}
    assert len(http.post("/v1/search", json={"query": "stroke face drooping"}).json()["passages"]) <= 4


@pytest.mark.parametrize("body, says", [
    ({"input": []}, "non-empty list"),
    ({"input": ""}, "input[0] is empty"),
    ({"input": ["ok", "  "]}, "input[1] is empty"),
    ({"input": [[1, 2, 3]]}, "token ids"),
    ({"input": ["x" * (tools.MAX_EMBED_CHARS + 1)]}, "limit"),
    ({"input": ["word"] * (tools.MAX_EMBED_INPUTS + 1)}, "limit"),
    ({"input": "hello", "dimensions": 3}, "dimensions"),
    ({"input": "hello", "encoding_format": "int8"}, "encoding_format"),
])
def test_bad_embeddings_requests(api: Any, body: dict[str, Any], says: str) -> None:
    _, http, _ = api
    assert says in error_of(http.post("/v1/embeddings", json={"model": "m", **body}), 400)["message"]


@pytest.mark.parametrize("body, says", [
    ({"query": ""}, "type a question"),
    ({"query": "q" * 5000}, "limit"),
    ({"query": "asthma", "k": 0}, "k"),
    ({"query": "asthma", "k": 21}, "k"),
    ({"query": "asthma", "index": "nope"}, "no index named 'nope'"),
    ({"query": "asthma", "index": "../etc"}, "not allowed"),
    ({"query": 5}, "must be text"),
])
def test_bad_search_requests(api: Any, body: dict[str, Any], says: str) -> None:
    _, http, _ = api
    assert says in error_of(http.post("/v1/search", json=body), 400)["message"]


def test_empty_and_huge_bodies(api: Any) -> None:
    client, http, _ = api
    for path in ("/v1/embeddings", "/v1/search"):
        assert "empty" in error_of(http.post(path, content=b""), 400)["message"]
        assert error_of(http.post(path, content=b"{" + b" " * 300_000 + b"}"), 413)["code"] == "body_too_large"
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.embeddings.create(model="m", input=["y" * 9000])


def test_public_mode_counts_embeddings_and_searches(public_api: Any) -> None:
    client, http, _ = public_api
    assert http.post("/v1/search", json={"query": ""}).status_code == 400  # refused input is not counted
    client.embeddings.create(model="m", input="asthma")
    assert http.post("/v1/search", json={"query": "asthma"}).status_code == 200
    assert http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "What is asthma?"}]}
                     ).status_code == 200  # chat shares the same budget
    limited = http.post("/v1/search", json={"query": "asthma"})
    assert "last minute" in error_of(limited, 429)["message"] and int(limited.headers["retry-after"]) >= 1
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="m", input="asthma")
