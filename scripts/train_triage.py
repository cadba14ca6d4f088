"""Train the learned triage model (medgemma/safety/triage.py), deterministically, and compare two designs.

Data and splits: medgemma/safety/triage_data.py (held-out families, held-out messages, development set).
MedSafetyBench llama2, XSTest and K-QA are never used: they are bench/safety_bench.py's held-out sets.

Designs, trained on the same rows and scored on the same development set:
- frozen: logistic regression on the frozen MiniLM sentence vectors (the old harm classifier's design);
- lora: MiniLM fine-tuned end to end through LoRA (rank 8 on every attention and feed-forward projection)
  with a linear label head and a family head, weighted cross-entropy, AdamW.
The better one by the development score (recall of emergencies and harmful requests at <= 1% false alarms
on general messages) is written to medgemma/safety/triage_model/, atomically. The frozen design is a
LoRA-less model in the same format.

Usage: python scripts/train_triage.py [--data ../shared/data] [--epochs 4] [--design best|lora|frozen]
Takes about three minutes on two cores, most of it the fine-tuning.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medgemma.assets import default_embedder_path  # noqa: E402
from medgemma.files import atomic_folder, sha256_file  # noqa: E402
from medgemma.safety.triage import FORMAT, LABELS, MAX_TOKENS, TriageModel, decide_label, mean_pool  # noqa: E402
from medgemma.safety.triage_data import HELD_OUT, Row, counterfactuals, dataset, splits  # noqa: E402

OUT = REPO / "medgemma" / "safety" / "triage_model"
FALSE_ALARMS = 0.01  # the share of development general/personal messages a threshold may flag


def load_encoder():
    from transformers import AutoModel, AutoTokenizer

    folder = default_embedder_path()
    return (AutoTokenizer.from_pretrained(str(folder), local_files_only=True),
            AutoModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True))


def as_model(tok, enc, heads: dict, families: list[str]) -> TriageModel:
    """The in-memory encoder and heads as the app will load them, for scoring."""
    meta = {"labels": list(LABELS), "families": families, "thresholds": dict.fromkeys(("emergency", "harmful", "urgent"), 0.5)}
    return TriageModel(enc.eval(), tok, heads, meta)


def class_weights(labels: list[int], n: int):
    import torch

    counts = np.bincount(labels, minlength=n).astype(float)
    w = 1.0 / np.sqrt(np.maximum(counts, 1.0))  # rarer classes count more, less than fully balanced
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def train_frozen(tok, enc, train: list[Row], families: list[str], seed: int) -> dict:
    """Logistic regression heads on frozen vectors, as torch tensors in the shipped layout."""
    import torch
    from sklearn.linear_model import LogisticRegression

    x = as_model(tok, enc, {}, families).vectors([r.text for r in train]).numpy()
    y = [LABELS.index(r.label) for r in train]
    lr = LogisticRegression(C=20.0, max_iter=5000, class_weight="balanced", random_state=seed).fit(x, y)
    heads = {"head.label.weight": torch.tensor(lr.coef_, dtype=torch.float32),
             "head.label.bias": torch.tensor(lr.intercept_, dtype=torch.float32)}
    fam_rows = [(v, families.index(r.family)) for v, r in zip(x, train) if r.family in families]
    fl = LogisticRegression(C=20.0, max_iter=5000, random_state=seed).fit(
        np.stack([v for v, _ in fam_rows]), [f for _, f in fam_rows])
    fw = np.zeros((len(families), x.shape[1]), dtype=np.float32)
    fb = np.full(len(families), -30.0, dtype=np.float32)
    fw[fl.classes_] = fl.coef_
    fb[fl.classes_] = fl.intercept_
    heads |= {"head.family.weight": torch.tensor(fw), "head.family.bias": torch.tensor(fb)}
    return {"heads": heads, "lora": {}, "scale": 0.0, "encoder": enc}


def train_lora(train: list[Row], families: list[str], args: argparse.Namespace) -> dict:
    """LoRA on every Linear of the encoder plus two heads, trained together on weighted cross-entropy."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(args.seed)
    tok, enc = load_encoder()
    targets = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
    cfg = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.1, target_modules=targets)
    model = get_peft_model(enc, cfg)
    dim = enc.config.hidden_size
    label_head = torch.nn.Linear(dim, len(LABELS))
    family_head = torch.nn.Linear(dim, len(families))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": params, "lr": args.lr},
                             {"params": [*label_head.parameters(), *family_head.parameters()], "lr": args.lr * 5}],
                            weight_decay=0.01)
    y = [LABELS.index(r.label) for r in train]
    f = [families.index(r.family) if r.family in families else -100 for r in train]
    label_loss = torch.nn.CrossEntropyLoss(weight=class_weights(y, len(LABELS)))
    family_loss = torch.nn.CrossEntropyLoss(ignore_index=-100)
    # Sentence vectors have unit length; a fixed scale lets the heads reach confident logits early.
    scale = 20.0
    order = list(range(len(train)))
    steps = args.epochs * ((len(order) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr, args.lr * 5], total_steps=steps,
                                                pct_start=0.1)
    from tqdm import tqdm

    bar = tqdm(total=steps, desc="fine-tuning", unit="step")
    model.train()
    for epoch in range(args.epochs):
        random.Random(f"{args.seed}:{epoch}").shuffle(order)
        # Batches of similar length waste less on padding: sort within chunks of 8 batches.
        chunks = [order[i:i + args.batch * 8] for i in range(0, len(order), args.batch * 8)]
        batches = [c[j:j + args.batch] for c in chunks
                   for c in [sorted(c, key=lambda k: len(train[k].text))] for j in range(0, len(c), args.batch)]
        for idx in batches:
            b = tok([train[k].text for k in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                    return_tensors="pt")
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                hidden = model(**b).last_hidden_state
            v = mean_pool(hidden.float(), b["attention_mask"]) * scale
            loss = label_loss(label_head(v), torch.tensor([y[k] for k in idx]))
            fam = torch.tensor([f[k] for k in idx])
            if (fam >= 0).any():
                loss = loss + 0.5 * family_loss(family_head(v), fam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    lora = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            base = name.removeprefix("base_model.model.")
            lora[f"lora.{base}.lora_A"] = module.lora_A["default"].weight.detach().clone()
            lora[f"lora.{base}.lora_B"] = module.lora_B["default"].weight.detach().clone()
    # The scale multiplies the vector before the heads; fold it into their weights for the shipped layout.
    heads = {"head.label.weight": label_head.weight.detach() * scale, "head.label.bias": label_head.bias.detach(),
             "head.family.weight": family_head.weight.detach() * scale,
             "head.family.bias": family_head.bias.detach()}
    merged = model.merge_and_unload()
    return {"heads": heads, "lora": lora, "scale": cfg.lora_alpha / cfg.r, "encoder": merged, "tokenizer": tok}


def probabilities(tok, enc, heads: dict, families: list[str], texts: list[str]) -> np.ndarray:
    model = as_model(tok, enc, heads, families)
    return model.label_probabilities(model.vectors(texts)).numpy()


def thresholds(p: np.ndarray, rows: list[Row]) -> dict[str, float]:
    """Per flag, the lowest threshold whose false alarms on development general/personal messages stay within
    FALSE_ALARMS (and never below 0.05), so recall is as high as that budget allows."""
    benign = np.array([r.label in ("general", "personal") for r in rows])
    scores = {"emergency": p[:, 0], "harmful": p[:, 2], "urgent": p[:, 0] + p[:, 1]}
    out = {}
    for name, s in scores.items():
        neg = np.sort(s[benign])[::-1]
        allowed = int(np.floor(FALSE_ALARMS * len(neg)))
        cut = neg[allowed] if allowed < len(neg) else 0.0
        out[name] = float(min(max(cut + 1e-6, 0.05), 0.95))
    return out


def score(p: np.ndarray, rows: list[Row], th: dict[str, float]) -> dict[str, float]:
    pred = [decide_label(dict(zip(LABELS, map(float, q))), th) for q in p]
    def recall(label: str, ok: tuple[str, ...]) -> float:
        idx = [i for i, r in enumerate(rows) if r.label == label]
        return sum(pred[i] in ok for i in idx) / max(len(idx), 1)
    benign = [i for i, r in enumerate(rows) if r.label in ("general", "personal")]
    return {"emergency_recall": recall("emergency", ("emergency",)),
            "emergency_or_urgent": recall("emergency", ("emergency", "urgent")),
            "urgent_recall": recall("urgent", ("urgent", "emergency")),
            "harmful_recall": recall("harmful", ("harmful",)),
            "over_triage": sum(pred[i] in ("emergency", "urgent") for i in benign) / max(len(benign), 1),
            "over_refusal": sum(pred[i] == "harmful" for i in benign) / max(len(benign), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--design", choices=("best", "lora", "frozen"), default="best")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--medquad", type=int, default=1500, help="MedQuAD questions sampled as general messages")
    ap.add_argument("--counterfactual", type=float, default=0.5,
                    help="share of training messages copied with an age, sex, ethnicity, religion or nationality")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="fine-tune in fp32 (slower)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    torch.manual_seed(args.seed)
    rows, files = dataset(args.data, args.medquad, args.seed)
    parts = splits(rows, args.seed)
    for name, part in parts.items():
        print(f"{name}: {len(part)} ({', '.join(f'{k} {v}' for k, v in sorted(Counter(r.label for r in part).items()))})")
    families = sorted({r.family for r in parts["train"] if r.label in ("emergency", "urgent")})
    dev = parts["dev"]
    train = counterfactuals(parts["train"], args.counterfactual, args.seed)

    results = {}
    t0 = time.time()
    tok, enc = load_encoder()
    if args.design in ("best", "frozen"):
        frozen = train_frozen(tok, enc, train, families, args.seed)
        p = probabilities(tok, enc, frozen["heads"], families, [r.text for r in dev])
        frozen["thresholds"] = thresholds(p, dev)
        frozen["tokenizer"] = tok
        results["frozen"] = frozen | {"dev": score(p, dev, frozen["thresholds"]), "seconds": time.time() - t0}
    if args.design in ("best", "lora"):
        t1 = time.time()
        lora = train_lora(train, families, args)
        p = probabilities(lora["tokenizer"], lora["encoder"], lora["heads"], families, [r.text for r in dev])
        lora["thresholds"] = thresholds(p, dev)
        results["lora"] = lora | {"dev": score(p, dev, lora["thresholds"]), "seconds": time.time() - t1}
    for name, res in results.items():
        print(f"{name:7s} dev: " + ", ".join(f"{k} {v:.3f}" for k, v in res["dev"].items())
              + f"  ({res['seconds']:.0f} s)")
    def merit(res: dict) -> float:
        d = res["dev"]
        return d["emergency_recall"] + d["harmful_recall"] + 0.5 * d["urgent_recall"] - 2 * (d["over_triage"] + d["over_refusal"])
    best = max(results, key=lambda k: merit(results[k]))
    chosen = results[best]
    print(f"writing the {best} design to {args.out}")

    from safetensors.torch import save_file

    meta = {
        "format": FORMAT, "version": 1, "design": best, "labels": list(LABELS), "families": families,
        "thresholds": chosen["thresholds"], "encoder": "all-MiniLM-L6-v2", "max_tokens": MAX_TOKENS,
        "lora": {"rank": args.rank, "scale": chosen["scale"]} if chosen["lora"] else {},
        "held_out_families": list(HELD_OUT),
        "dev": {name: res["dev"] for name, res in results.items()},
        "trained": {
            "date": dt.date.today().isoformat(), "seed": args.seed, "epochs": args.epochs, "batch": args.batch,
            "lr": args.lr, "bf16": args.bf16, "counterfactual": args.counterfactual,
            "counts": {name: dict(Counter(r.label for r in part)) for name, part in parts.items()},
            "files": {str(p.relative_to(REPO) if p.is_relative_to(REPO) else p.name): sha256_file(p)
                      for p in files},
        },
    }
    with atomic_folder(args.out) as tmp:
        save_file({k: v.contiguous() for k, v in {**chosen["lora"], **chosen["heads"]}.items()},
                  str(tmp / "weights.safetensors"))
        (tmp / "triage.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
