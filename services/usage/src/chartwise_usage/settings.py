"""Configuration of the usage service, read from the environment."""

from __future__ import annotations

from typing import ClassVar

from chartwise_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "usage"
    default_http_port: ClassVar[int] = 8003
