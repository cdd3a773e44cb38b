from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError

from chartwise_runtime.settings import Environment, ServiceSettings, dev_secret


class ExampleSettings(ServiceSettings):
    service_name: ClassVar[str] = "example"
    default_http_port: ClassVar[int] = 8123

    api_key: SecretStr = dev_secret("api-key")


def test_placeholder_secrets_are_accepted_in_development() -> None:
    settings = ExampleSettings(environment=Environment.DEVELOPMENT)

    assert settings.api_key.get_secret_value().startswith("insecure-")


@pytest.mark.parametrize("environment", [Environment.PRODUCTION, Environment.TEST])
def test_placeholder_secrets_are_refused_outside_development(environment: Environment) -> None:
    with pytest.raises(ValidationError, match="API_KEY"):
        ExampleSettings(environment=environment)


def test_real_secrets_are_accepted_in_production() -> None:
    settings = ExampleSettings(environment=Environment.PRODUCTION, api_key=SecretStr("sk_live_real"))

    assert settings.api_key.get_secret_value() == "sk_live_real"


def test_environment_defaults_to_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHARTWISE_ENV", raising=False)

    with pytest.raises(ValidationError):
        ExampleSettings()


def test_service_defaults_fill_database_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTWISE_ENV", "development")
    monkeypatch.delenv("MONGO_DATABASE", raising=False)
    monkeypatch.delenv("HTTP_PORT", raising=False)

    settings = ExampleSettings()

    assert settings.mongo_database == "chartwise_example"
    assert settings.http_port == 8123


def test_environment_variables_configure_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTWISE_ENV", "development")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6380/1")
    monkeypatch.setenv("HTTP_PORT", "9000")

    settings = ExampleSettings()

    assert settings.redis_url == "redis://cache:6380/1"
    assert settings.http_port == 9000
