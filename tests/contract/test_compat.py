"""The compatibility check itself: it must catch each kind of breaking change and allow additive ones."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from chartwise_contracts.compat import breaking_changes


def schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class NarrowSide(StrEnum):
    BUY = "buy"


class WideSide(StrEnum):
    BUY = "buy"
    SELL = "sell"
    SHORT = "short"


class Inner(BaseModel):
    price: float


class InnerRetyped(BaseModel):
    price: str


class V1(BaseModel):
    id: str
    count: int
    side: Side
    note: str | None = None
    inner: Inner


def test_identical_schemas_are_compatible() -> None:
    assert breaking_changes(schema(V1), schema(V1)) == []


def test_removing_a_required_field_breaks() -> None:
    class V2(BaseModel):
        id: str
        side: Side
        inner: Inner

    assert breaking_changes(schema(V1), schema(V2)) == ["$.count: required field removed"]


def test_retyping_a_field_breaks() -> None:
    class V2(BaseModel):
        id: str
        count: str
        side: Side
        inner: Inner

    problems = breaking_changes(schema(V1), schema(V2))
    assert problems == ["$.count: type no longer accepts integer"]


def test_retyping_a_nested_field_breaks() -> None:
    class V2(BaseModel):
        id: str
        count: int
        side: Side
        inner: InnerRetyped

    assert breaking_changes(schema(V1), schema(V2)) == ["$.inner.price: type no longer accepts number"]


def test_narrowing_an_enum_breaks() -> None:
    class V2(BaseModel):
        id: str
        count: int
        side: NarrowSide
        inner: Inner

    assert breaking_changes(schema(V1), schema(V2)) == ["$.side: enum no longer accepts ['sell']"]


def test_requiring_a_new_field_breaks() -> None:
    class V2(V1):
        extra: int

    assert breaking_changes(schema(V1), schema(V2)) == ["$.extra: field is now required"]


def test_tightening_a_bound_breaks() -> None:
    class Loose(BaseModel):
        name: str = Field(max_length=100)

    class Tight(BaseModel):
        name: str = Field(max_length=10)

    assert breaking_changes(schema(Loose), schema(Tight)) == ["$.name: maxLength tightened to 10"]


def test_additive_changes_are_compatible() -> None:
    class V2(BaseModel):
        id: str
        count: int | float
        side: WideSide
        note: str | None = None
        inner: Inner
        added: str = "default"

    assert breaking_changes(schema(V1), schema(V2)) == []
