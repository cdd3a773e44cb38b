"""Finds every message model in the contracts package, for schema snapshots and cross-service checks."""

from __future__ import annotations

import importlib
import pkgutil

import chartwise_contracts
from chartwise_contracts.messages import Command, Event, Message, Query, Reply

_BASES: frozenset[type[Message]] = frozenset({Message, Command, Event, Query, Reply})


def _import_all_modules() -> None:
    for info in pkgutil.walk_packages(chartwise_contracts.__path__, prefix="chartwise_contracts."):
        importlib.import_module(info.name)


def _subclasses(cls: type[Message]) -> list[type[Message]]:
    found: list[type[Message]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def all_messages() -> dict[str, type[Message]]:
    """Every concrete message model, by class name; names are unique across the package."""
    _import_all_modules()
    messages: dict[str, type[Message]] = {}
    for cls in _subclasses(Message):
        if cls in _BASES or not cls.__module__.startswith("chartwise_contracts."):
            continue
        if getattr(cls, "__pydantic_generic_metadata__", {}).get("parameters"):
            continue
        existing = messages.get(cls.__name__)
        if existing is not None and existing is not cls:
            raise RuntimeError(f"two message models named {cls.__name__}: {existing.__module__}, {cls.__module__}")
        messages[cls.__name__] = cls
    return dict(sorted(messages.items()))
