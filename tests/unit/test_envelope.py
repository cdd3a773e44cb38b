from __future__ import annotations

from chartwise_contracts import Command, Envelope, Event


class StartThing(Command):
    thing: str


class ThingStarted(Event):
    thing: str


def test_a_new_message_correlates_to_itself() -> None:
    command = StartThing.new(actor="u1", thing="x")

    assert command.meta.correlation_id == command.meta.message_id
    assert command.meta.causation_id is None
    assert command.meta.actor == "u1"
    assert command.meta.occurred_at.tzinfo is not None


def test_a_caused_message_keeps_the_correlation_and_names_its_cause() -> None:
    command = StartThing.new(actor="u1", thing="x")

    event = command.cause(ThingStarted, thing="x")

    assert event.meta.correlation_id == command.meta.correlation_id
    assert event.meta.causation_id == command.meta.message_id
    assert event.meta.message_id != command.meta.message_id
    assert event.meta.actor == "u1"


def test_joining_a_conversation_keeps_the_given_correlation_id() -> None:
    command = StartThing.new(thing="x", correlation_id="req-42")

    assert command.meta.correlation_id == "req-42"


def test_messages_round_trip_through_json_and_ignore_unknown_fields() -> None:
    command = StartThing.new(actor="u1", thing="x")
    wire = command.model_dump(mode="json") | {"added_later": 1}

    assert StartThing.model_validate(wire) == command


def test_envelope_ids_are_unique() -> None:
    assert len({Envelope().message_id for _ in range(1000)}) == 1000
