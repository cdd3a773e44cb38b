"""Configuration of the gateway service, read from the environment."""

from __future__ import annotations

from typing import ClassVar

from chartwise_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    default_http_port: ClassVar[int] = 8000
