"""Across services: on every stream, consumers accept exactly what producers publish, and nothing is one-sided.

The map is `chartwise_contracts.flows`. What a service consumes is read from its AsyncAPI document (built from
its code), or, for a stream it tails outside FastStream, from the `STREAM_READS` its package declares, checked
by decoding a sample of each message through the package's own `decode`; what a server answers from its
handlers' return types; what a producer or client sends from the contract types its package imports.
Parts of the map marked planned are reported as pending, and fail once the code plays them, so the map is moved
forward with the code.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import typing
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chartwise_contracts import ErrorReply
from chartwise_contracts.flows import FLOWS, PLANNED, RPCS, Flow, Rpc
from chartwise_contracts.jobs import QueuedJob
from chartwise_contracts.messages import Event, Message
from chartwise_devtools import docs

REPO = Path(__file__).resolve().parents[2]
SERVICES = docs.service_names(REPO)
UNTYPED = "<untyped>"


@functools.cache
def app(service: str) -> Any:
    return docs.build_service_app(service)


@functools.cache
def stream_reader(service: str) -> ModuleType | None:
    """The module of the service that declares `STREAM_READS` (streams it tails with plain XREAD), if any."""
    src = REPO / "services" / service / "src"
    found = []
    for path in src.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            if any(isinstance(t, ast.Name) and t.id == "STREAM_READS" for t in targets):
                found.append(".".join(path.relative_to(src).with_suffix("").parts))
    assert len(found) <= 1, f"{service} declares STREAM_READS in {found}: keep one"
    return importlib.import_module(found[0]) if found else None


def tailed(service: str) -> dict[str, tuple[type[Message], ...]]:
    """Stream → the message types the service decodes from it without FastStream (its `STREAM_READS`)."""
    reader = stream_reader(service)
    reads: dict[str, tuple[type[Message], ...]] = reader.STREAM_READS if reader is not None else {}
    return reads


@functools.cache
def consumed(service: str) -> dict[str, frozenset[str]]:
    """Stream address → names of the payload schemas the service's subscribers on it accept (or it tails)."""
    accepted: dict[str, set[str]] = defaultdict(set)
    for stream, messages in tailed(service).items():
        accepted[stream] |= {m.__name__ for m in messages}
    document = docs.asyncapi_document(app(service))
    if document is None:
        return {address: frozenset(names) for address, names in accepted.items()}
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            accepted[channel["address"]] |= payload_names(document, message["payload"])
    return {address: frozenset(names) for address, names in accepted.items()}


def payload_names(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Message type names a payload schema accepts: a named schema, or each member of a union of them."""
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        target = document["components"]["schemas"][name]
        # FastStream names a handler's own wrapper schema "<Handler>:Message:Payload"; look through it.
        return payload_names(document, target) if ":" in name else {name}
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return set().union(*(payload_names(document, member) for member in schema[key]))
    return {UNTYPED}


@functools.cache
def imported_names(service: str) -> frozenset[str]:
    """Every name the service's package imports from the contracts, and every runtime module it imports."""
    names: set[str] = set()
    for path in (REPO / "services" / service / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("chartwise_contracts"):
                    names.update(alias.name for alias in node.names)
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return frozenset(names)


def sends(service: str, message: type[Message]) -> bool:
    return message.__name__ in imported_names(service)


def uses_worker_kit(service: str) -> bool:
    return any(name.startswith("chartwise_runtime.worker") for name in imported_names(service))


def accepts(accepted: frozenset[str], message: type[Message]) -> bool:
    """A consumer accepts a type it names, or a base of it (the fallback of a left-to-right union)."""
    return any(cls.__name__ in accepted for cls in message.__mro__)


def _registered_channels() -> list[str]:
    return [f.stream for f in FLOWS] + [r.subject for r in RPCS]


def test_each_stream_and_subject_is_registered_once() -> None:
    channels = _registered_channels()
    assert len(channels) == len(set(channels))
    assert {p.channel for p in PLANNED} <= set(channels), "a planned part refers to an unregistered channel"


def test_the_registry_names_only_services_of_the_workspace() -> None:
    named = {s for f in FLOWS for s in (*f.producers, *f.consumers)}
    named |= {s for r in RPCS for s in (r.server, *r.clients)} | {p.service for p in PLANNED}
    assert named <= set(SERVICES)


def test_no_stream_or_subject_is_one_sided() -> None:
    planned: dict[tuple[str, str], set[str]] = defaultdict(set)
    for part in PLANNED:
        side = "consumer" if part.role == "consumer" else "producer"
        planned[(part.channel, side)].add(part.service)
    for flow in FLOWS:
        assert flow.producers or planned[(flow.stream, "producer")], f"{flow.stream} has consumers but no producer"
        assert flow.consumers or planned[(flow.stream, "consumer")], f"{flow.stream} has producers but no consumer"
    for rpc in RPCS:
        assert rpc.clients or planned[(rpc.subject, "producer")], f"{rpc.subject} is served but nobody calls it"


def _consumer_cases() -> list[Any]:
    return [
        pytest.param(flow, consumer, id=f"{flow.stream}-{consumer}") for flow in FLOWS for consumer in flow.consumers
    ]


def mismatches(accepted: frozenset[str], messages: tuple[type[Message], ...]) -> list[str]:
    """What a consumer accepting `accepted` would refuse of `messages`, or expects that none of them is."""
    refused = [f"refuses {m.__name__}" for m in messages if not accepts(accepted, m)]
    published = {cls.__name__ for m in messages for cls in m.__mro__}
    return refused + [f"expects {name}" for name in sorted(accepted - published)]


@pytest.mark.parametrize(("flow", "consumer"), _consumer_cases())
def test_consumers_accept_exactly_what_producers_publish(flow: Flow, consumer: str) -> None:
    accepted = consumed(consumer).get(flow.stream)
    assert accepted is not None, f"{consumer} does not subscribe to {flow.stream}"
    assert (flow.stream in tailed(consumer)) == (consumer in flow.tailed_by), f"{consumer} on {flow.stream}: tailed_by"
    if consumer in flow.decoded_by_hand:
        assert accepted == frozenset({UNTYPED}), f"{consumer} now types {flow.stream}: drop it from decoded_by_hand"
        return
    assert mismatches(accepted, flow.messages) == [], f"{consumer} on {flow.stream}, which its producers publish"


SAMPLE_FIELDS: dict[str, Any] = {
    "job_id": "job-1",
    "queue": "chart-analysis",
    "name": "analyse",
    "attempt": 1,
    "worker": "worker-1",
    "sequence": 1,
    "progress": 0.5,
    "error": "boom",
    "analysis_id": "analysis-1",
    "user_id": "user-1",
    "reason": "a reason",
    "job": QueuedJob(
        job_id="job-1", queue="chart-analysis", name="analyse", enqueued_at=datetime(2026, 1, 1, tzinfo=UTC)
    ),
}


def sample(message: type[Message]) -> Message:
    """An instance of `message` with every required field filled from `SAMPLE_FIELDS` (times: any aware instant)."""
    required = [n for n, f in message.model_fields.items() if f.is_required() and n != "meta"]
    values: dict[str, Any] = {
        n: datetime(2026, 1, 1, tzinfo=UTC) if n.endswith("_at") else SAMPLE_FIELDS.get(n) for n in required
    }
    missing = [n for n, v in values.items() if v is None]
    assert missing == [], f"add sample values of {missing} (for {message.__name__}) to SAMPLE_FIELDS"
    return message.new(actor="user-1", **values)


Decode = Callable[[str, bytes | None], Message | None]


def decoding_problems(stream: str, messages: tuple[type[Message], ...], decode: Decode) -> list[str]:
    """How `decode` fails to turn each of `messages` into itself, or turns a message of another stream into one."""
    problems = []
    for message in messages:
        decoded = decode(stream, sample(message).model_dump_json().encode())
        if type(decoded) is not message:
            problems.append(f"{message.__name__} decoded as {type(decoded).__name__}")
    # The events of other streams: what a decoder that looked only at shared fields would take by mistake.
    strangers = [
        m for f in FLOWS if f.stream != stream for m in f.messages if issubclass(m, Event) and m not in messages
    ]
    for stranger in strangers:
        decoded = decode(stream, sample(stranger).model_dump_json().encode())
        if decoded is not None:
            problems.append(f"{stranger.__name__}, not sent on {stream}, decoded as {type(decoded).__name__}")
    return problems


def _tailer_cases() -> list[Any]:
    return [pytest.param(flow, tailer, id=f"{flow.stream}-{tailer}") for flow in FLOWS for tailer in flow.tailed_by]


@pytest.mark.parametrize(("flow", "tailer"), _tailer_cases())
def test_tailed_streams_are_decoded_with_the_declared_types(flow: Flow, tailer: str) -> None:
    reader = stream_reader(tailer)
    assert reader is not None, f"{tailer} declares no STREAM_READS"
    assert decoding_problems(flow.stream, flow.messages, reader.decode) == []


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.stream)
def test_producers_send_what_they_are_registered_for(flow: Flow) -> None:
    for producer in flow.producers:
        if flow.via_worker_kit:
            assert uses_worker_kit(producer), f"{producer} runs no worker, so it writes no {flow.stream} events"
        else:
            missing = [m.__name__ for m in flow.messages if not sends(producer, m)]
            assert missing == [], f"{producer} never imports {missing}, so it cannot publish them on {flow.stream}"


def _handler_replies(service: str, subject: str) -> set[Any]:
    """The types a server's handler on `subject` may return, read from its annotation."""
    replies: set[Any] = set()
    for subscriber in app(service).broker.subscribers:
        if subscriber.stream_sub.name != subject:
            continue
        for call in subscriber.calls:
            # The signature, not the annotations: `replies_with_errors` widens it to `Reply | ErrorReply`.
            returns = inspect.signature(call.handler._original_call, eval_str=True).return_annotation
            replies |= set(typing.get_args(returns)) or {returns}
    return replies


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: r.subject)
def test_servers_take_the_request_and_answer_the_reply(rpc: Rpc) -> None:
    assert consumed(rpc.server).get(rpc.subject) == frozenset({rpc.request.__name__}), f"{rpc.server} on {rpc.subject}"
    assert _handler_replies(rpc.server, rpc.subject) == {rpc.reply, ErrorReply}
    for client in rpc.clients:
        assert sends(client, rpc.request), f"{client} never imports {rpc.request.__name__}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_channel_a_service_consumes_is_registered(service: str) -> None:
    registered = {f.stream for f in FLOWS if service in f.consumers} | {r.subject for r in RPCS if r.server == service}
    unregistered = sorted(set(consumed(service)) - registered)
    assert unregistered == [], f"register what {service} consumes in chartwise_contracts.flows"


def _messages_on(channel: str) -> tuple[type[Message], ...]:
    for flow in FLOWS:
        if flow.stream == channel:
            return flow.messages
    return (next(r.request for r in RPCS if r.subject == channel),)


def test_planned_parts_are_pending_until_the_code_plays_them() -> None:
    for part in PLANNED:
        if part.role == "consumer":
            assert part.channel not in consumed(part.service), f"{part}: now consumed, move it from PLANNED into FLOWS"
        else:
            sent = [m.__name__ for m in _messages_on(part.channel) if sends(part.service, m)]
            assert sent == [], f"{part.service} now imports {sent}: move it from PLANNED into FLOWS / RPCS"
    if PLANNED:
        pytest.skip("pending: " + "; ".join(f"{p.service} as {p.role} of {p.channel} ({p.why})" for p in PLANNED))


def test_the_checks_notice_a_mismatch() -> None:
    flow = next(f for f in FLOWS if not f.decoded_by_hand and f.consumers)
    accepted = consumed(flow.consumers[0])[flow.stream]
    assert all(accepts(accepted, m) for m in flow.messages)
    assert not accepts(accepted, ErrorReply)
    assert not accepts(frozenset({"SomethingElse"}), flow.messages[0])
    assert mismatches(accepted | {"SomethingElse"}, flow.messages) == ["expects SomethingElse"]

    tailed_flow = next(f for f in FLOWS if f.tailed_by and len(f.messages) > 1)
    declared = tailed(tailed_flow.tailed_by[0])[tailed_flow.stream]
    assert mismatches(frozenset(m.__name__ for m in declared[1:]), tailed_flow.messages) == [
        f"refuses {declared[0].__name__}"
    ]
    first = tailed_flow.messages[0]
    nothing: Decode = lambda _stream, _body: None  # noqa: E731
    everything_as_first: Decode = lambda _stream, _body: sample(first)  # noqa: E731
    assert decoding_problems(tailed_flow.stream, tailed_flow.messages, nothing)
    assert any("not sent on" in p for p in decoding_problems(tailed_flow.stream, (first,), everything_as_first))
