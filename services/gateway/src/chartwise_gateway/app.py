"""Composition root of the gateway service: builds its clients and wires its handlers."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from chartwise_gateway.settings import Settings
from chartwise_runtime.service import ServiceRuntime


def build_app(settings: Settings) -> AsgiFastStream:
    runtime = ServiceRuntime.create(settings)
    return runtime.app(description="The HTTP edge: identity, validation, HTTP to messages and back, live progress.")
