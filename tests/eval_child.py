"""A stand-in for `python -m medgemma`: the real CLI, with the scripted backend and a hashed index.

`python tests/eval_child.py SECONDS eval --task ...` runs the eval command as a user would, except that each
answer the model writes takes SECONDS: the evaluation jobs' tests start it as the Evaluation tab's child.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the fakes, and the project as `python -m` finds it

from fakes import FakeBackend, HashEmbedder  # noqa: E402

import medgemma.runtime  # noqa: E402
from medgemma.__main__ import main  # noqa: E402
from medgemma.backends.base import StopSignal  # noqa: E402
from medgemma.config import GenerationParams  # noqa: E402
from medgemma.rag.retriever import Retriever  # noqa: E402
from medgemma.types import Chunk, Message  # noqa: E402

SECONDS = float(sys.argv.pop(1))
CHUNKS = [Chunk("asthma-1", "Asthma is a long-term lung condition that causes wheezing and cough.", "Asthma", "NHS",
                "https://www.nhs.uk/conditions/asthma/")]


class SlowBackend(FakeBackend):
    def stream(self, messages: Sequence[Message], params: GenerationParams,
               stop: StopSignal | None = None) -> Iterator[str]:
        time.sleep(SECONDS)
        yield from super().stream(messages, params, stop)


class ChildRuntime(medgemma.runtime.Runtime):
    def __init__(self, cfg) -> None:  # type: ignore[no-untyped-def]
        index = Retriever.build(CHUNKS, Path(tempfile.mkdtemp()) / "idx", HashEmbedder())  # type: ignore[arg-type]
        super().__init__(cfg, make_backend=lambda _: SlowBackend(), open_index=lambda *_: index,
                         triage=lambda: None)


medgemma.runtime.Runtime = ChildRuntime  # type: ignore[misc]
sys.exit(main(sys.argv[1:]))
