"""The checked-in AsyncAPI and OpenAPI documents are what the code generates, and what each service serves."""

from __future__ import annotations

import functools
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from chartwise_devtools import docs

REPO = Path(__file__).resolve().parents[2]
SERVICES = docs.service_names(REPO)


@functools.cache
def generated() -> dict[Path, str]:
    return docs.generate(REPO)


def test_checked_in_documents_match_the_code() -> None:
    assert docs.drift(REPO, generated()) == [], "run `make docs` and commit the documents"


def test_generation_is_deterministic_and_host_independent() -> None:
    assert docs.generate(REPO) == generated()
    hostname = socket.gethostname()
    for path, text in generated().items():
        assert f'"{hostname}' not in text, f"{path} names this machine"


def test_every_service_has_its_document() -> None:
    for service in SERVICES:
        app = docs.build_service_app(service)
        if docs.asyncapi_document(app) is not None:
            assert docs.ASYNCAPI_DIR / f"{service}.json" in generated()
        else:
            assert docs.openapi_document(app) is not None, f"{service} documents neither its streams nor its HTTP API"
    assert docs.ASYNCAPI_DIR / "journal.json" in generated()
    if (REPO / "services" / docs.EDGE_SERVICE).is_dir():
        assert docs.OPENAPI_FILE in generated() or docs.ASYNCAPI_DIR / f"{docs.EDGE_SERVICE}.json" in generated()


def test_drift_names_a_changed_a_missing_and_a_stale_document(tmp_path: Path) -> None:
    (tmp_path / "services").symlink_to(REPO / "services")
    docs.write(tmp_path, generated())
    assert docs.drift(tmp_path, generated()) == []
    changed, removed = sorted(p for p in generated() if p.parent == docs.ASYNCAPI_DIR)[:2]
    (tmp_path / changed).write_text(json.dumps({"asyncapi": "3.0.0"}))
    (tmp_path / removed).unlink()
    (tmp_path / docs.ASYNCAPI_DIR / "retired.json").write_text("{}")
    assert docs.drift(tmp_path, generated()) == [
        f"{docs.ASYNCAPI_DIR / 'retired.json'}: no longer generated (run `make docs`)",
        f"{changed}: differs from the code (run `make docs`)",
        f"{removed}: missing (run `make docs`)",
    ]
    docs.write(tmp_path, generated())
    assert docs.drift(tmp_path, generated()) == []
    assert not (tmp_path / docs.ASYNCAPI_DIR / "retired.json").exists()


def test_make_docs_check_exits_nonzero_on_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "services").symlink_to(REPO / "services")
    assert docs.main(["--root", str(tmp_path), "--check"]) == 1
    assert "missing (run `make docs`)" in capsys.readouterr().out


async def _get(app: Any, path: str) -> tuple[int, bytes]:
    """One GET through the app's ASGI interface, without starting it (no server is contacted)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"chartwise.test")],
        "client": ("127.0.0.1", 40000),
        "server": ("chartwise.test", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


# Serving renders the document as generation does, including the channel-overwrite notice of reliable_subscriber.
@pytest.mark.filterwarnings("ignore:Overwrite channel handler:RuntimeWarning")
@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_serves_the_document_it_is_generated_with(service: str) -> None:
    app = docs.build_service_app(service)
    asyncapi = docs.asyncapi_document(app)
    if asyncapi is not None:
        status, body = await _get(app, "/asyncapi.json")
        assert status == 200
        assert json.loads(body) == json.loads(generated()[docs.ASYNCAPI_DIR / f"{service}.json"])
        html_status, html = await _get(app, "/asyncapi")
        assert html_status == 200
        assert b"<html" in html.lower()
    openapi = docs.openapi_document(app)
    if openapi is not None:
        status, body = await _get(app, "/openapi.json")
        assert status == 200
        target = docs.OPENAPI_FILE if service == docs.EDGE_SERVICE else Path(f"docs/openapi-{service}.json")
        assert json.loads(body) == json.loads(generated()[target])
