"""Writes the API documents generated from the code (`make docs`): each service's AsyncAPI, the gateway's OpenAPI.

The documents are checked in; a contract test regenerates them in memory and fails when they differ, so they
always describe the code. Generation only builds each app: no server is contacted.
`python -m chartwise_devtools.docs --check` reports drift without writing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chartwise_runtime.settings import ServiceSettings

ASYNCAPI_DIR = Path("docs/asyncapi")
OPENAPI_FILE = Path("docs/openapi.json")
EDGE_SERVICE = "gateway"

# Fixed values for the settings that appear in the documents, so they read the same on every machine.
DOCUMENT_SETTINGS: Mapping[str, Any] = {
    "environment": "development",
    "consumer_name": "asyncapi",
    "redis_url": "redis://redis:6379/0",
    "mongo_url": "mongodb://mongo:27017/?directConnection=true",
}


def service_names(root: Path) -> list[str]:
    """Every service of the workspace: a folder of services/ holding a `chartwise_<name>` package."""
    services = root / "services"
    return sorted(
        path.name
        for path in services.iterdir()
        if (path / "pyproject.toml").is_file() and (path / "src" / f"chartwise_{path.name}").is_dir()
    )


def settings_class(service: str) -> type[ServiceSettings]:
    cls: type[ServiceSettings] = importlib.import_module(f"chartwise_{service}.settings").Settings
    return cls


def build_service_app(service: str, **settings: Any) -> Any:
    """The service's ASGI app, built by its own composition root with development settings."""
    values = {**DOCUMENT_SETTINGS, **settings}
    built = settings_class(service)(**values)
    return importlib.import_module(f"chartwise_{service}.app").build_app(built)


def asyncapi_document(app: Any) -> dict[str, Any] | None:
    """The AsyncAPI document of a FastStream app; None for an app without one."""
    schema = getattr(app, "schema", None)
    if schema is None or not hasattr(schema, "to_specification"):
        return None
    with warnings.catch_warnings():
        # `reliable_subscriber` registers one handler twice on a stream (new and reclaimed entries); FastStream
        # warns that the second registration names the same channel, which is what it is meant to do.
        warnings.filterwarnings("ignore", message="Overwrite channel handler", category=RuntimeWarning)
        document: dict[str, Any] = schema.to_specification().to_jsonable()
    return document


def openapi_document(app: Any) -> dict[str, Any] | None:
    """The OpenAPI document of a FastAPI (or any `.openapi()`-serving) app; None for other apps."""
    openapi = getattr(app, "openapi", None)
    if not callable(openapi):
        return None
    document: dict[str, Any] = openapi()
    return document


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(root: Path) -> dict[Path, str]:
    """Every generated document, by path relative to `root`, as it should be on disk."""
    documents: dict[Path, str] = {}
    for service in service_names(root):
        app = build_service_app(service)
        asyncapi = asyncapi_document(app)
        if asyncapi is not None:
            documents[ASYNCAPI_DIR / f"{service}.json"] = render(asyncapi)
        openapi = openapi_document(app)
        if openapi is not None:
            target = OPENAPI_FILE if service == EDGE_SERVICE else Path(f"docs/openapi-{service}.json")
            documents[target] = render(openapi)
    return documents


def stale_documents(root: Path, documents: Mapping[Path, str]) -> list[Path]:
    """Generated documents on disk that no service produces any more."""
    on_disk = sorted(p.relative_to(root) for p in (root / ASYNCAPI_DIR).glob("*.json"))
    return [path for path in on_disk if path not in documents]


def drift(root: Path, documents: Mapping[Path, str] | None = None) -> list[str]:
    """What differs between the checked-in documents and the code (or `documents`); empty when they agree."""
    documents = generate(root) if documents is None else documents
    problems = [f"{path}: no longer generated (run `make docs`)" for path in stale_documents(root, documents)]
    for path, text in sorted(documents.items()):
        target = root / path
        if not target.is_file():
            problems.append(f"{path}: missing (run `make docs`)")
        elif target.read_text() != text:
            problems.append(f"{path}: differs from the code (run `make docs`)")
    return problems


def write(root: Path, documents: Mapping[Path, str] | None = None) -> list[Path]:
    documents = generate(root) if documents is None else documents
    for stale in stale_documents(root, documents):
        (root / stale).unlink()
    for path, text in documents.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return sorted(documents)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root (default: here)")
    parser.add_argument("--check", action="store_true", help="report drift instead of writing")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if args.check:
        problems = drift(root)
        sys.stdout.write("".join(f"{p}\n" for p in problems) or "generated documents are up to date\n")
        return 1 if problems else 0
    for path in write(root):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
