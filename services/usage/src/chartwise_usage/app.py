"""Composition root of the usage service: builds its clients and wires its handlers."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from chartwise_runtime.service import ServiceRuntime
from chartwise_usage.settings import Settings


def build_app(settings: Settings) -> AsgiFastStream:
    runtime = ServiceRuntime.create(settings)
    return runtime.app(description="Meters analyses against plans, reserves quota, keeps Stripe plan state.")
