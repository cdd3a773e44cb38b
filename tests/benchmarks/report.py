"""Where benchmarks record what they measured: each owns one `## ...` section of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def write_section(heading: str, text: str) -> None:
    """Replaces the section under `heading` (or appends it), keeping one blank line around it."""
    existing = BENCHMARKS_DOC.read_text() if BENCHMARKS_DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"\n*{re.escape(heading)}\n.*?(?=\n## |\Z)", re.DOTALL)
    section = "\n\n" + text.strip("\n") + "\n"
    found = pattern.search(existing) is not None
    updated = pattern.sub(lambda _: section, existing) if found else existing.rstrip("\n") + section
    BENCHMARKS_DOC.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS_DOC.write_text(updated.rstrip("\n") + "\n")
