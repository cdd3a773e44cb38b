"""Runs a service's ASGI app under uvicorn; SIGTERM and SIGINT drain it within the shutdown timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn

from chartwise_runtime.logging import configure_logging
from chartwise_runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def serve(build_app: Callable[[S], Any], settings: S) -> None:
    configure_logging(service=settings.service_name, level=settings.log_level, fmt=settings.log_format)
    app = build_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        lifespan="on",
    )
