"""Configuration of the usage service, read from the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr

from chartwise_runtime.settings import ServiceSettings
from chartwise_usage.plans import DEFAULT_TIERS, Tier


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"USAGE_{name.upper()}", name)


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "usage"
    default_http_port: ClassVar[int] = 8003

    plans: tuple[Tier, ...] = Field(default=DEFAULT_TIERS, validation_alias=_env("plans"))
    reservation_ttl_s: float = Field(
        default=1800,
        gt=0,
        validation_alias=_env("reservation_ttl_s"),
        description="A reservation neither committed nor released by then is released by the expiry sweep.",
    )
    settled_record_ttl_s: float = Field(
        default=7 * 86_400,
        gt=0,
        validation_alias=_env("settled_record_ttl_s"),
        description="How long a settled reservation is remembered in Redis to recognise repeated events.",
    )
    plan_cache_ttl_s: float = Field(default=300, gt=0, validation_alias=_env("plan_cache_ttl_s"))
    # The scheduler's shortest interval is one second.
    expiry_sweep_interval_s: float = Field(
        default=30,
        ge=1,
        validation_alias=_env("expiry_sweep_interval_s"),
        description="Interval of the `usage:expire-reservations` schedule.",
    )
    stripe_reconcile_interval_s: float = Field(
        default=3600,
        ge=1,
        validation_alias=_env("stripe_reconcile_interval_s"),
        description="Interval of the `usage:stripe-reconcile` schedule (kept only with Stripe configured).",
    )
    schedule_recurring_work: bool = Field(
        default=True,
        # `run_periodic_tasks` is the setting's former name, still accepted.
        validation_alias=AliasChoices(*_env("schedule_recurring_work").choices, *_env("run_periodic_tasks").choices),
        description="Register the recurring schedules with the scheduler and run their worker; tests turn it off.",
    )
    schedule_retry_initial_s: float = Field(
        default=1,
        gt=0,
        validation_alias=_env("schedule_retry_initial_s"),
        description="First wait before asking an unreachable scheduler again; doubled on each failure.",
    )
    schedule_retry_max_s: float = Field(default=60, gt=0, validation_alias=_env("schedule_retry_max_s"))

    stripe_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_API_KEY", "stripe_api_key")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret")
    )
    stripe_api_base: str | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_API_BASE", "stripe_api_base"),
        description="Another base URL for the Stripe API (a local server in tests); unset means Stripe itself.",
    )
    stripe_timeout_s: float = Field(default=10, gt=0, validation_alias=_env("stripe_timeout_s"))
    stripe_max_retries: int = Field(default=2, ge=0, le=5, validation_alias=_env("stripe_max_retries"))
