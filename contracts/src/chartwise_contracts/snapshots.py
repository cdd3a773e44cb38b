"""Writes and reads the checked-in JSON Schema snapshot of every message (`make contracts`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from chartwise_contracts.registry import all_messages


def schema_of(model: type[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(mode="validation")
    return schema


def write_snapshots(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    current = all_messages()
    for name, model in current.items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n")
        written.append(path)
    for stale in directory.glob("*.json"):
        if stale.stem not in current:
            stale.unlink()
    return written


def read_snapshot(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("contracts/schemas")
    written = write_snapshots(target)
    sys.stdout.write(f"wrote {len(written)} schema snapshots to {target}\n")


if __name__ == "__main__":
    main()
