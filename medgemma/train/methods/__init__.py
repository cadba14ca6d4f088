"""How an adapter learns: one small module per method, behind one training entry point (`trainer.train`).

The run itself (config, data loading, the split, leakage check, provenance, the run folder, checkpoints,
resume, progress and stop) is shared; a method only says how examples become dataset rows and which TRL
trainer trains on them:

- `sft`: the answer-only loss (TRL's SFTTrainer);
- `dpo`: preference pairs (TRL's DPOTrainer), the reference being the starting model with the LoRA off, or the
  `init_adapter` when training from one;
- `grpo`: sampled answers scored by a verifiable reward (`rewards.py`, TRL's GRPOTrainer); it samples
  `num_generations` answers per question at every step, which is a GPU's work;
- `distill`: the SFT loss mixed with the KL to a teacher's next-token distributions at the answer positions.
"""

from __future__ import annotations

from types import ModuleType

from ...errors import InputError
from . import distill, dpo, grpo, sft

METHODS: dict[str, ModuleType] = {"sft": sft, "dpo": dpo, "grpo": grpo, "distill": distill}


def method(name: str) -> ModuleType:
    """The module of method `name`: it has `rows(cfg, tokenizer, examples, end)` and `make_trainer(...)`."""
    found = METHODS.get(name)
    if found is None:
        raise InputError(f"Unknown training method {name!r}. Known methods: {', '.join(METHODS)}.")
    return found
