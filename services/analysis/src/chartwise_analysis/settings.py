"""Configuration of the analysis service, read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from chartwise_runtime.settings import ServiceSettings, dev_secret


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "analysis"
    default_http_port: ClassVar[int] = 8001

    # The worker: the original ran 4 at a time and 18 starts a minute (the provider's lowest tier).
    worker_concurrency: int = Field(default=4, ge=1, le=256)
    rate_limit_jobs: int = Field(default=18, ge=1)
    rate_limit_per_s: float = Field(default=60.0, gt=0)
    job_attempts: int = Field(default=4, ge=1, le=20, description="Runs in total when the provider is busy.")
    retry_delay_ms: int = Field(default=5_000, ge=0, description="First retry delay; doubles with each retry.")
    visibility_timeout_s: float = Field(default=60.0, gt=0)
    scheduled_concurrency: int = Field(
        default=4, ge=1, le=64, description="Scheduled runs taken in at once; each only reserves quota and queues."
    )

    vision_provider: Literal["openai", "local"] = "openai"
    openai_api_key: SecretStr = dev_secret("openai-api-key")
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o"
    openai_timeout_s: float = Field(default=60.0, gt=0)
    openai_max_tokens: int = Field(default=2_000, ge=100, le=32_000)
    openai_temperature: float = Field(default=0.0, ge=0, le=2)
    openai_image_detail: Literal["high", "low", "auto"] = "high"

    blob_store: Literal["local", "cloudinary"] = "local"
    blob_dir: Path = Path(".local/blobs")
    cloudinary_cloud_name: str = "chartwise"
    cloudinary_api_key: str = "chartwise"
    cloudinary_api_secret: SecretStr = dev_secret("cloudinary-api-secret")
    cloudinary_upload_prefix: str | None = Field(default=None, description="API base; the SDK's when unset.")
    cloudinary_delivery_cname: str | None = Field(default=None, description="Delivery host; the SDK's when unset.")
    cloudinary_secure: bool = True
    cloudinary_timeout_s: float = Field(default=30.0, gt=0)

    fetch_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    fetch_timeout_s: float = Field(default=10.0, gt=0)
    image_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
