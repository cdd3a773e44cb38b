"""Every message model matches its checked-in JSON Schema snapshot, or changes it compatibly.

A breaking change needs a deliberate `make contracts`, which rewrites the snapshots, so it shows in review.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chartwise_contracts.compat import breaking_changes
from chartwise_contracts.registry import all_messages
from chartwise_contracts.snapshots import read_snapshot, schema_of

SNAPSHOTS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
MESSAGES = all_messages()


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_is_compatible_with_its_snapshot(name: str) -> None:
    snapshot = read_snapshot(SNAPSHOTS, name)
    assert snapshot is not None, f"{name} has no schema snapshot: run `make contracts` and commit it"

    problems = breaking_changes(snapshot, schema_of(MESSAGES[name]))

    assert problems == [], f"{name} breaks its contract: {problems}; if deliberate, run `make contracts`"


def test_every_snapshot_belongs_to_a_message() -> None:
    orphans = sorted(p.stem for p in SNAPSHOTS.glob("*.json") if p.stem not in MESSAGES)

    assert orphans == [], f"snapshots without a message (removed messages break consumers): {orphans}"
