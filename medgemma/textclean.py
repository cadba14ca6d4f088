"""Text from untrusted files and clients: lone surrogates replaced, and JSON too deeply nested reported as bad.

A lone surrogate (a JSON escape such as "\\ud800", an odd PDF font, undecodable bytes in argv) is valid in a
Python string but not in UTF-8: tokenizers raise on it and files cannot be written with it.
"""

from __future__ import annotations

import json
import re
from typing import Any

SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def scrub(value: Any) -> Any:
    """`value` (a string, or lists and dicts of them) with lone surrogates replaced by U+FFFD."""
    if isinstance(value, str):
        return SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value


def json_loads(text: str) -> Any:
    """json.loads, with lone surrogates replaced and nesting too deep for the parser reported as bad JSON."""
    try:
        data = json.loads(text)
        return scrub(data) if SURROGATE_ESCAPE.search(text) else data
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
