"""Training data: file formats and their errors, images, split, stats, leakage, and the three recipes."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import warnings
from collections import Counter
from pathlib import Path

import pytest
from conftest import PASSAGES, shared_file

from medgemma.errors import InputError
from medgemma.eval.tasks import medquad_split, pubmedqa_test_ids
from medgemma.prompts import NO_CONTEXT_PROMPT, SYSTEM_PROMPT
from medgemma.train import data as train_data
from medgemma.train.data import check_leakage, dataset_stats, drop_images, load_examples, split_examples, write_stats
from medgemma.train.examples import Example, normalize_question
from medgemma.train.grounded import NO_ANSWER_TEMPLATES, grounded_recipe
from medgemma.train.recipes import RECIPES, build_recipe, medquad_recipe, pubmedqa_recipe
from medgemma.types import Passage

CLINICAL = Path(__file__).resolve().parents[1] / "medgemma" / "eval" / "data" / "clinical_errors.jsonl"

INSTRUCTION = {"id": "ce-1", "instruction": "Review the report and answer ERROR or CORRECT.",
               "input": "Findings: right apical pneumothorax. Impression: left pneumothorax.",
               "output": "ERROR: the sides disagree.",
               "metadata": {"modality": "xray", "severity": "high", "image_file": "images/ce-1.png"}}
QA = {"id": "qa-1", "question": "What causes asthma symptoms?", "answer": "Narrowed airways cause them [1].",
      "context": "Asthma narrows the airways, causing wheeze and cough.", "title": "Asthma", "source": "NHS"}
QA_PLAIN = {"question": "What is a fever?", "response": "A temperature above normal."}
CHAT = {"id": "chat-1", "messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is asthma?"},
    {"role": "assistant", "content": "A lung condition."},
    {"role": "user", "content": "Is it common?"},
    {"role": "assistant", "content": "Yes, very common."}]}


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})
    return out.getvalue()


def _user(ex: Example) -> str:
    return ex.messages[-1]["content"]


def _sources(ex: Example) -> dict[int, str]:
    """{number: passage text} from the prompt's numbered sources block."""
    content = _user(ex)
    if not content.startswith("Sources:\n"):
        return {}
    block = content[len("Sources:\n"): content.rindex("\n\nQuestion:")]
    out = {}
    for part in re.split(r"\n\n(?=\[\d+\][ \n])", block):
        head, _, text = part.partition("\n")
        out[int(re.match(r"\[(\d+)\]", head).group(1))] = text
    return out


def _cited(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


# --- formats -----------------------------------------------------------------------------------------------


def _check_instruction(ex: Example, base: Path) -> None:
    assert ex.id == "ce-1"
    assert ex.messages[0] == {"role": "system", "content": NO_CONTEXT_PROMPT}
    assert INSTRUCTION["instruction"] + "\n\n" + INSTRUCTION["input"] in _user(ex)
    assert ex.answer == INSTRUCTION["output"]
    assert ex.meta["category"] == "xray" and ex.meta["severity"] == "high"
    assert Path(ex.meta["image_file"]) == base / "images" / "ce-1.png"


def _check_qa(ex: Example) -> None:
    assert ex.messages[0]["content"] == SYSTEM_PROMPT
    assert _sources(ex) == {1: QA["context"]}
    assert "[1] Asthma (NHS)" in _user(ex)
    assert _user(ex).endswith("Question: " + QA["question"])
    assert ex.answer == QA["answer"]


def _check_chat(ex: Example) -> None:
    assert [m["role"] for m in ex.messages] == ["system", "user", "assistant", "user"]
    assert ex.answer == "Yes, very common."
    assert ex.meta["question"] == "Is it common?"


def test_jsonl_each_format(tmp_path):
    path = _jsonl(tmp_path / "train.jsonl", [INSTRUCTION, QA, QA_PLAIN, CHAT])
    ins, qa, plain, chat = load_examples(path)
    _check_instruction(ins, tmp_path)
    _check_qa(qa)
    _check_chat(chat)
    assert plain.messages[0]["content"] == NO_CONTEXT_PROMPT and plain.answer == QA_PLAIN["response"]
    assert plain.id == "train-3"
    assert [e.meta["format"] for e in (ins, qa, plain, chat)] == ["instruction", "qa", "qa", "chat"]


def test_json_list_and_gzip(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([INSTRUCTION, QA, CHAT], indent=2), encoding="utf-8")
    ins, qa, chat = load_examples(tmp_path / "a.json")
    _check_instruction(ins, tmp_path)
    _check_qa(qa)
    _check_chat(chat)
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps(QA) + "\n")
    _check_qa(load_examples(tmp_path / "b.jsonl.gz")[0])


def test_csv_and_csv_gz(tmp_path):
    text = _csv_text([INSTRUCTION, QA, CHAT])
    (tmp_path / "a.csv").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "b.csv.gz", "wt", encoding="utf-8") as f:
        f.write(text)
    for path in (tmp_path / "a.csv", tmp_path / "b.csv.gz"):
        ins, qa, chat = load_examples(path)
        _check_instruction(ins, tmp_path)
        _check_qa(qa)
        _check_chat(chat)


def test_csv_context_that_is_not_json_stays_text(tmp_path):
    (tmp_path / "c.csv").write_text(_csv_text([{**QA, "context": "[Note] Asthma narrows the airways."}]))
    assert _sources(load_examples(tmp_path / "c.csv")[0]) == {1: "[Note] Asthma narrows the airways."}
    (tmp_path / "l.csv").write_text(_csv_text([{**QA, "context": ["First passage.", "Second passage."]}]))
    assert _sources(load_examples(tmp_path / "l.csv")[0]) == {1: "First passage.", 2: "Second passage."}


def test_forced_format_and_limit(tmp_path):
    path = _jsonl(tmp_path / "t.jsonl", [QA, QA_PLAIN])
    assert len(load_examples(path, fmt="qa", limit=1)) == 1
    with pytest.raises(InputError, match=r"line 1: 'instruction' is missing"):
        load_examples(path, fmt="instruction")
    with pytest.raises(InputError, match="Unknown training format"):
        load_examples(path, fmt="alpaca")


def test_saved_dataset_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list([QA_PLAIN, QA_PLAIN]).save_to_disk(str(tmp_path / "ds"))
    examples = load_examples(tmp_path / "ds")
    assert [e.answer for e in examples] == [QA_PLAIN["response"]] * 2
    datasets.Dataset.from_list([QA_PLAIN, {"question": "Why?", "response": ""}]).save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(InputError, match=r"row 1: 'response' is empty"):
        load_examples(tmp_path / "bad")


def test_project_clinical_file_loads():
    rows = [json.loads(line) for line in CLINICAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    examples = load_examples(CLINICAL)
    assert len(examples) == len(rows)
    assert {e.meta["category"] for e in examples} == {r["metadata"]["modality"] for r in rows}
    with_image = sum("image_file" in r["metadata"] for r in rows)
    assert sum("image_file" in e.meta for e in examples) == with_image
    assert all(str(CLINICAL.parent) in e.meta["image_file"] for e in examples if "image_file" in e.meta)


# --- malformed records -------------------------------------------------------------------------------------

GOOD = json.dumps(QA_PLAIN)


@pytest.mark.parametrize("name, content, where", [
    ("bad.jsonl", f"{GOOD}\n{GOOD}\n{{not json\n", "line 3"),
    ("bad.jsonl", f"{GOOD}\n\n" + json.dumps({"question": "Q?", "answer": "  "}) + "\n", "line 3"),
    ("bad.jsonl", json.dumps({"question": "Q?", "answer": 5}) + "\n", "line 1"),
    ("bad.jsonl", f"{GOOD}\n" + json.dumps({"instruction": "Do it."}) + "\n", "line 2"),
    ("bad.jsonl", f"{GOOD}\n[1, 2]\n", "line 2"),
    ("bad.jsonl", f"{GOOD}\n" + json.dumps({"text": "no format"}) + "\n", "line 2"),
    ("bad.jsonl", json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                           {"role": "doctor", "content": "Hello"}]}) + "\n", "line 1"),
    ("bad.jsonl", f"{GOOD}\n" + json.dumps({**QA, "metadata": [1]}) + "\n", "line 2"),
    ("bad.json", json.dumps([QA_PLAIN, {"question": "Q?", "answer": ["a"]}]), "list index 1"),
    ("bad.json", "[\n" + GOOD + ",\n" + GOOD + ",\n{oops}\n]", "line 4"),
    ("bad.csv", 'question,answer\n"A long\nquestion?",fine\nSecond?,\n', "line 4"),
    ("bad.csv", "question,answer\nQ?,A.\nQ2?,A2.,extra\n", "line 3"),
    ("bad.csv", "messages\n" + '"[{""role"": ""user"", ""content"": ""Hi""}"\n', "line 2"),
])
def test_malformed_record_names_its_line(tmp_path, name, content, where):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_examples(path)
    assert str(path) in str(err.value)
    assert where in str(err.value)


def test_chat_must_end_with_the_assistant(tmp_path):
    row = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                        {"role": "user", "content": "And?"}]}
    with pytest.raises(InputError, match=r"line 2: the last message must be the assistant's"):
        load_examples(_jsonl(tmp_path / "c.jsonl", [QA_PLAIN, row]))


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"line 2: id 'qa-1' was already used at line 1"):
        load_examples(_jsonl(tmp_path / "d.jsonl", [QA, QA]))


def test_binary_and_non_utf8_files(tmp_path):
    (tmp_path / "bin.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary"):
        load_examples(tmp_path / "bin.jsonl")
    (tmp_path / "latin.jsonl").write_bytes(GOOD.encode() + b"\n" + '{"question": "Caf\xe9?"}'.encode("latin-1"))
    with pytest.raises(InputError, match=r"line 2: not UTF-8"):
        load_examples(tmp_path / "latin.jsonl")
    (tmp_path / "junk.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="gzip"):
        load_examples(tmp_path / "junk.jsonl.gz")


def test_size_limit_is_checked_before_and_after_inflating(tmp_path, monkeypatch):
    monkeypatch.setattr(train_data, "MAX_FILE_BYTES", 1000)
    (tmp_path / "big.jsonl").write_text(GOOD + "\n" + " " * 2000, encoding="utf-8")
    with pytest.raises(InputError, match="limit"):
        load_examples(tmp_path / "big.jsonl")
    with gzip.open(tmp_path / "bomb.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(GOOD + "\n" + " " * 100_000)
    assert (tmp_path / "bomb.jsonl.gz").stat().st_size < 1000
    with pytest.raises(InputError, match="decompresses"):
        load_examples(tmp_path / "bomb.jsonl.gz")


def test_missing_path_is_not_fetched(tmp_path):
    with pytest.raises(InputError, match="not fetched"):
        load_examples("someone/some-hub-dataset")


# --- images ------------------------------------------------------------------------------------------------


def test_images_skipped_for_text_only_with_one_warning(tmp_path):
    rows = [INSTRUCTION, {**INSTRUCTION, "id": "ce-2"}, {**INSTRUCTION, "id": "ce-3", "metadata": {}}, QA]
    examples = load_examples(_jsonl(tmp_path / "i.jsonl", rows))
    assert examples[0].messages[-1]["images"] == [examples[0].meta["image_file"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = drop_images(examples, multimodal=False)
    assert len(caught) == 1 and "2 of 4" in str(caught[0].message)
    assert [e.id for e in kept] == [e.id for e in examples]
    assert not any("image_file" in e.meta or any("images" in m for m in e.messages) for e in kept)
    assert [e.meta.get("image_skipped") for e in kept] == ["true", "true", None, None]
    assert kept[0].answer == examples[0].answer and _user(kept[0]) == _user(examples[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert drop_images(examples, multimodal=True) == examples
        assert drop_images(kept, multimodal=False) == kept


# --- split, stats, leakage ---------------------------------------------------------------------------------


def _toy(n_per: dict[str, int]) -> list[Example]:
    out = []
    for cat, n in n_per.items():
        for i in range(n):
            q = f"Question {cat} {i}?"
            out.append(Example(f"{cat}-{i}", ({"role": "system", "content": NO_CONTEXT_PROMPT},
                                              {"role": "user", "content": f"Question: {q}"}),
                               f"Answer {i}.", {"category": cat, "source": "toy", "question": q}))
    return out


def test_split_is_stratified_deterministic_and_disjoint():
    examples = _toy({"a": 40, "b": 10, "c": 2, "d": 1})
    train, val = split_examples(examples, val_fraction=0.1, seed=3)
    assert {e.id for e in train}.isdisjoint({e.id for e in val})
    assert len(train) + len(val) == len(examples)
    per = Counter(e.meta["category"] for e in val)
    assert per["a"] == 4 and per["b"] == 1 and per["c"] == 1 and per["d"] == 0
    assert all(any(e.meta["category"] == c for e in train) for c in "abcd")
    again = split_examples(examples, val_fraction=0.1, seed=3)
    assert again == (train, val)
    shuffled = examples[:]
    random.Random(1).shuffle(shuffled)
    assert {e.id for e in split_examples(shuffled, 0.1, seed=3)[1]} == {e.id for e in val}
    assert {e.id for e in split_examples(examples, 0.1, seed=4)[1]} != {e.id for e in val}
    assert split_examples(examples, 0.0) == (examples, [])
    with pytest.raises(InputError):
        split_examples(examples, 1.0)


def test_stats_fields_and_atomic_write(tmp_path):
    train, val = split_examples(_toy({"a": 8, "b": 4}), 0.25)
    stats = dataset_stats(train, val)
    assert stats["counts"] == {"train": len(train), "val": len(val), "total": 12}
    assert sum(stats["strata"]["train"].values()) == len(train) and set(stats["strata"]["val"]) == {"a", "b"}
    assert stats["sources"]["train"] == {"toy": len(train)}
    for part in ("train", "val"):
        for field in ("prompt", "answer"):
            assert {"min", "mean", "median", "p95", "max"} <= set(stats["chars"][part][field])
    assert stats["tokens"] is None

    class Words:
        def encode(self, text):
            return text.split()

    class Called:
        def __call__(self, text):
            return {"input_ids": list(text)}

    words = dataset_stats(train, val, Words())["tokens"]
    assert stats["chars"]["train"]["answer"]["max"] > words["train"]["answer"]["max"]
    assert dataset_stats(train, val, Called())["tokens"]["val"]["answer"] == stats["chars"]["val"]["answer"]
    write_stats(tmp_path / "out" / "stats.json", stats)
    assert json.loads((tmp_path / "out" / "stats.json").read_text()) == json.loads(json.dumps(stats))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["stats.json"]


def test_leakage_by_id_and_by_question_text():
    examples = _toy({"a": 3})
    pmid = Example("pubmedqa-7", examples[0].messages, "Yes.", {"pmid": "7"})
    found = check_leakage(examples + [pmid], eval_ids={"a-0", "7"}, eval_questions=["  QUESTION a 2 ? "])
    assert found == ["a-0", "a-2", "pubmedqa-7"]
    assert check_leakage(examples, eval_ids=set(), eval_questions=["question a 22"]) == []
    assert normalize_question("What is (are) Asthma ?") == normalize_question("what is are asthma")


# --- recipes on the real data ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pubmedqa_examples() -> list[Example]:
    shared_file("pubmedqa", "ori_pqal.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pubmedqa_recipe()


@pytest.fixture(scope="module")
def medquad_examples() -> list[Example]:
    shared_file("medquad", "medquad_answered.jsonl.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return medquad_recipe()


def test_pubmedqa_recipe_leaves_out_the_test_split(pubmedqa_examples):
    test = pubmedqa_test_ids()
    assert len(pubmedqa_examples) == 500
    assert not {e.meta["pmid"] for e in pubmedqa_examples} & test
    assert len({e.id for e in pubmedqa_examples}) == 500
    for e in pubmedqa_examples:
        word = {"yes": "Yes.", "no": "No.", "maybe": "Maybe."}[e.meta["category"]]
        assert e.answer.startswith(word + " ")
        assert _cited(e.answer) == {1} and e.answer.count("[1]") == 1
        assert e.messages[0]["content"] == SYSTEM_PROMPT and list(_sources(e)) == [1]
        assert e.meta["source"] == "pubmedqa" and e.meta["eval_split"] == "train"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert build_recipe("pubmedqa")[:3] == pubmedqa_examples[:3]
    with pytest.raises(InputError, match="--recipe"):
        load_examples("pubmedqa")  # a file loader: recipes are named as recipes


def test_medquad_recipe_has_only_train_questions(medquad_examples):
    assert len(medquad_examples) > 10_000
    assert all(medquad_split(e.meta["question"]) == "train" for e in medquad_examples)
    keys = [normalize_question(e.meta["question"]) for e in medquad_examples]
    assert len(set(keys)) == len(keys)
    assert all(0 < len(e.answer) <= 700 for e in medquad_examples)
    assert all(e.messages[0]["content"] == NO_CONTEXT_PROMPT and not _sources(e) for e in medquad_examples)
    assert all(e.meta["category"] for e in medquad_examples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = medquad_recipe(limit=50)
        assert sample == medquad_recipe(limit=50) and len(sample) == 50
    assert {e.id for e in sample} <= {e.id for e in medquad_examples}


# --- grounded ----------------------------------------------------------------------------------------------

FACTS = [
    ("What are the warning signs of a stroke?", "Stroke warning signs include a drooping face, weak arm and slurred "
     "speech. Anyone with these signs needs emergency care at once."),
    ("What does asthma do to the airways?", "In asthma the airways become swollen and narrow. This makes breathing "
     "harder and causes wheezing and coughing."),
    ("How do vaccines protect people?", "Vaccines teach the immune system to recognise a germ safely. Later "
     "infections are then fought off faster and more strongly."),
    ("Why is paracetamol overdose dangerous?", "Too much paracetamol can badly damage the liver over a few days. "
     "People may feel well at first even though harm is happening."),
    ("How does pneumonia look on a chest X-ray?", "Pneumonia usually shows as a white patch of consolidation on the "
     "film. Air bronchograms may be seen inside the white area."),
]


def _questions(n: int) -> list[tuple[str, Passage]]:
    return [(f"{q} (case {i})", Passage(f"fact-{i}", f"{text} Case number {i} is described here for testing.",
                                        f"Fact sheet {i}", "Test", "", 1.0))
            for i in range(n) for q, text in [FACTS[i % len(FACTS)]]]


def _check_grounded(examples: list[Example], k: int, gold_text: dict[str, str]) -> None:
    for e in examples:
        sources = _sources(e)
        assert e.messages[0]["content"] == SYSTEM_PROMPT
        assert _user(e).endswith("Question: " + e.meta["question"])
        assert len(sources) == int(e.meta["n_passages"]) == k
        gold = gold_text[e.meta["question"]]
        if e.meta["grounded"] == "answer":
            position = int(e.meta["gold_position"])
            assert sources[position] == gold
            assert sum(text == gold for text in sources.values()) == 1
            assert _cited(e.answer) == {position}
            sentences = re.split(r"(?<=[.!?])\s+", e.answer)
            assert 1 <= len(sentences) <= 3 and all(s.endswith(f" [{position}].") for s in sentences)
        else:
            assert e.meta["grounded"] == "no_answer" and e.meta["gold_position"] == ""
            assert not _cited(e.answer) and e.answer in NO_ANSWER_TEMPLATES
            assert gold not in sources.values()


def test_grounded_on_small_index(small_index, tmp_path):
    questions = _questions(40)
    examples = grounded_recipe(small_index, questions, data_dir=tmp_path, k=4, no_answer_fraction=0.25, seed=1)
    assert len(examples) == 40
    gold_text = {q: p.text for q, p in questions}
    _check_grounded(examples, 4, gold_text)
    kinds = Counter(e.meta["grounded"] for e in examples)
    assert abs(kinds["no_answer"] / len(examples) - 0.25) <= 0.05
    assert len({e.meta["gold_position"] for e in examples if e.meta["grounded"] == "answer"}) >= 3

    assert grounded_recipe(small_index, questions, data_dir=tmp_path, k=4, no_answer_fraction=0.25, seed=1) == examples
    other = grounded_recipe(small_index, questions, data_dir=tmp_path, k=4, no_answer_fraction=0.25, seed=2)
    assert [e.meta["gold_position"] for e in other] != [e.meta["gold_position"] for e in examples]
    none = grounded_recipe(small_index, questions, data_dir=tmp_path, no_answer_fraction=0.0)
    assert all(e.meta["grounded"] == "answer" for e in none)


def test_grounded_excludes_near_duplicates_and_accepts_passages(small_index, tmp_path):
    # Each gold is an indexed passage: the index must not offer it again as a distractor.
    golds = [(f"Tell me about {c.title}.", Passage(c.id, c.text, c.title, c.source, c.url, 1.0)) for c in PASSAGES]
    examples = grounded_recipe(small_index, golds, data_dir=tmp_path, k=4, no_answer_fraction=0.0)
    assert len(examples) == len(PASSAGES)
    for e, (_, gold) in zip(examples, golds):
        assert e.meta["gold_id"] == gold.id
        assert e.meta["passage_ids"].split(",").count(gold.id) == 1
    _check_grounded(examples, 4, {q: p.text for q, p in golds})
    with pytest.warns(UserWarning, match="1 gold passages have no title"):
        given = grounded_recipe(small_index, [("What is asthma?", PASSAGES[1].text, "It is a lung condition [7].")],
                                data_dir=tmp_path, no_answer_fraction=0.0)
    position = int(given[0].meta["gold_position"])
    assert given[0].answer == f"It is a lung condition [{position}]."


def test_grounded_leaves_out_evaluation_questions(small_index, tmp_path):
    held = next(q for q in (f"What is condition {i} ?" for i in range(1000)) if medquad_split(q) == "eval")
    (tmp_path / "medquad").mkdir()
    with gzip.open(tmp_path / "medquad" / "medquad_answered.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"qid": "1", "question": held, "answer": "It is a condition of the body."}) + "\n")
    questions = [(held.lower().replace(" ?", "?"), FACTS[0][1]), FACTS[1]]
    with pytest.warns(UserWarning, match="no title"):
        examples = grounded_recipe(small_index, questions, data_dir=tmp_path, no_answer_fraction=0.0)
    assert [e.meta["question"] for e in examples] == [FACTS[1][0]]


def test_grounded_on_medquad_training_questions(small_index):
    shared_file("medquad", "medquad_answered.jsonl.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        examples = grounded_recipe(small_index, limit=20, k=3, no_answer_fraction=0.2, seed=5)
    assert len(examples) == 20 and sum(e.meta["grounded"] == "no_answer" for e in examples) == 4
    assert all(medquad_split(e.meta["question"]) == "train" and e.meta["source"] == "medquad" for e in examples)
    for e in examples:
        sources = _sources(e)
        assert len(sources) == 3
        if e.meta["grounded"] == "answer":
            position = int(e.meta["gold_position"])
            assert _cited(e.answer) == {position}
            quotes = [re.sub(r" \[\d+\]", "", s) for s in re.split(r"(?<=\.)\s+", e.answer)]
            assert all(q in sources[position] for q in quotes if ":" not in q)  # merged lists are not verbatim
        else:
            assert not _cited(e.answer)


def test_registry():
    assert set(RECIPES) == {"pubmedqa", "medquad", "grounded", "clinical-errors", "grounded-pairs"}
    with pytest.raises(InputError, match="Known recipes"):
        build_recipe("mystery")
    with pytest.raises(InputError, match="takes no index"):
        build_recipe("pubmedqa", index="default")
    with pytest.raises(InputError):  # an index name that is not allowed is refused before anything is read
        build_recipe("grounded", index="../outside")
