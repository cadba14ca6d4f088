"""Invariants of the bundled knowledge base (medgemma/corpus/passages.jsonl).

Standard library + pytest only; no network access.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

CORPUS = Path(__file__).parents[1] / "medgemma" / "corpus" / "passages.jsonl"

FIELDS = {"id", "topic", "category", "title", "text", "source", "url", "reviewed"}
CATEGORIES = {"conditions", "emergencies", "medicines", "prevention", "imaging", "mental-health"}
# Each source organisation and the domain its URLs must live on.
SOURCE_DOMAINS = {
    "WHO": "who.int",
    "CDC": "cdc.gov",
    "NHS": "nhs.uk",
    "MedlinePlus": "medlineplus.gov",
    "NIH": "nih.gov",
    "NICE": "nice.org.uk",
    "NCI": "cancer.gov",
}
ALLOWED_DOMAINS = set(SOURCE_DOMAINS.values())
REQUIRED_EMERGENCY_TOPICS = {
    "heart-attack",
    "stroke",
    "anaphylaxis",
    "sepsis",
    "meningitis",
    "severe-bleeding",
    "suicidal-crisis",
    "poisoning-overdose",
    "diabetic-emergencies",
    "asthma-attack",
}
EMERGENCY_MARKERS = ("emergency", "999", "911", "112")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*-\d{2}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _host_allowed(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


@pytest.fixture(scope="module")
def passages() -> list[dict]:
    assert CORPUS.is_file(), f"missing corpus file: {CORPUS}"
    rows = []
    with CORPUS.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            assert line.strip(), f"line {lineno}: blank line"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"line {lineno}: invalid JSON ({exc})")
            assert isinstance(row, dict), f"line {lineno}: not a JSON object"
            rows.append(row)
    return rows


def test_fields_exact_and_non_empty_strings(passages):
    for row in passages:
        assert set(row) == FIELDS, f"{row.get('id')}: fields {sorted(row)}"
        for key in FIELDS:
            value = row[key]
            assert isinstance(value, str), f"{row['id']}: {key} is not a string"
            assert value.strip(), f"{row['id']}: {key} is empty"
            assert value == value.strip(), f"{row['id']}: {key} has surrounding whitespace"


def test_ids_unique_and_well_formed(passages):
    ids = [row["id"] for row in passages]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicate ids: {dupes}"
    for row in passages:
        assert ID_PATTERN.match(row["id"]), f"bad id: {row['id']}"
        assert SLUG_PATTERN.match(row["topic"]), f"bad topic slug: {row['topic']}"
        assert row["id"].startswith(row["topic"] + "-"), f"{row['id']}: id does not start with topic"


def test_corpus_size(passages):
    assert len(passages) >= 150
    topics = {row["topic"] for row in passages}
    assert len(topics) >= 40, f"only {len(topics)} topics"


def test_topics_have_several_passages(passages):
    counts = Counter(row["topic"] for row in passages)
    thin = {t: n for t, n in counts.items() if n < 2}
    assert not thin, f"topics with a single passage: {thin}"


def test_required_emergency_topics_present(passages):
    topics = {row["topic"] for row in passages}
    missing = REQUIRED_EMERGENCY_TOPICS - topics
    assert not missing, f"missing emergency topics: {sorted(missing)}"


def test_text_length(passages):
    for row in passages:
        words = len(row["text"].split())
        assert 40 <= words <= 200, f"{row['id']}: {words} words"


def test_url_https_on_allowed_domain_matching_source(passages):
    for row in passages:
        parsed = urlparse(row["url"])
        assert parsed.scheme == "https", f"{row['id']}: not https: {row['url']}"
        host = (parsed.hostname or "").lower()
        assert any(_host_allowed(host, d) for d in ALLOWED_DOMAINS), f"{row['id']}: domain {host}"
        assert row["source"] in SOURCE_DOMAINS, f"{row['id']}: unknown source {row['source']}"
        assert _host_allowed(host, SOURCE_DOMAINS[row["source"]]), (
            f"{row['id']}: source {row['source']} does not match {host}"
        )
        assert " " not in row["url"], f"{row['id']}: whitespace in url"


def test_reviewed_is_iso_date(passages):
    for row in passages:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["reviewed"]), f"{row['id']}: {row['reviewed']}"
        dt.date.fromisoformat(row["reviewed"])


def test_categories_allowed(passages):
    for row in passages:
        assert row["category"] in CATEGORIES, f"{row['id']}: category {row['category']}"


def test_emergency_passages_mention_emergency_services(passages):
    for row in passages:
        if row["category"] == "emergencies" or row["topic"] in REQUIRED_EMERGENCY_TOPICS:
            text = row["text"].lower()
            assert any(marker in text for marker in EMERGENCY_MARKERS), (
                f"{row['id']}: emergency passage does not mention emergency services"
            )


def test_suicidal_crisis_mentions_crisis_lines(passages):
    texts = " ".join(row["text"] for row in passages if row["topic"] == "suicidal-crisis")
    assert "988" in texts
    assert "116 123" in texts
