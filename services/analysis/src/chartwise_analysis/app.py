"""Composition root of the analysis service: builds its clients, its vision provider, its blob store and its worker."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from faststream.asgi import AsgiFastStream
from openai import AsyncOpenAI

from chartwise_analysis.clock import Clock, system_clock
from chartwise_analysis.cloudinary_store import CloudinaryBlobStore, CloudinaryConfig
from chartwise_analysis.fetch import ChartFetcher, Resolver, system_resolver
from chartwise_analysis.handlers import HandlerDeps, register_handlers
from chartwise_analysis.intake import AnalysisJob, JobPolicy
from chartwise_analysis.job import analysis_job_handler
from chartwise_analysis.local_vision import LocalVisionProvider
from chartwise_analysis.openai_vision import OpenAIOptions, OpenAIVisionProvider
from chartwise_analysis.outbound import BrokerEventPublisher, BrokerJobScheduler
from chartwise_analysis.processing import RunDeps, give_up
from chartwise_analysis.repository import INDEXES, MongoAnalysisStore
from chartwise_analysis.scheduled import RpcUsage, ScheduledDeps, scheduled_analysis_handler
from chartwise_analysis.settings import Settings
from chartwise_analysis.vision import VisionProvider
from chartwise_contracts import Queues
from chartwise_contracts.analysis_api import SCHEDULED_ANALYSIS_QUEUE, ScheduledAnalysisJob
from chartwise_contracts.jobs import JobFailed, JobRetrying
from chartwise_runtime.blobs import BlobStore, LocalBlobStore
from chartwise_runtime.service import ServiceRuntime
from chartwise_runtime.worker import Worker, WorkerOptions, worker_hooks


@dataclass(frozen=True, slots=True)
class Overrides:
    """What tests may replace: the clock, and the resolver that guards chart URL fetches."""

    clock: Clock = system_clock
    resolver: Resolver = system_resolver
    fetch_transport: httpx.AsyncBaseTransport | None = None


def build_vision(settings: Settings) -> tuple[VisionProvider, AsyncOpenAI | None]:
    if settings.vision_provider == "local":
        return LocalVisionProvider(), None
    client = AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_s,
        max_retries=0,
    )
    options = OpenAIOptions(
        model=settings.openai_model,
        max_tokens=settings.openai_max_tokens,
        temperature=settings.openai_temperature,
        image_detail=settings.openai_image_detail,
    )
    return OpenAIVisionProvider(client, options), client


def build_blob_store(settings: Settings, http: httpx.AsyncClient) -> BlobStore:
    if settings.blob_store == "local":
        return LocalBlobStore(settings.blob_dir)
    config = CloudinaryConfig(
        cloud_name=settings.cloudinary_cloud_name,
        api_key=settings.cloudinary_api_key,
        api_secret=settings.cloudinary_api_secret.get_secret_value(),
        upload_prefix=settings.cloudinary_upload_prefix,
        delivery_cname=settings.cloudinary_delivery_cname,
        secure=settings.cloudinary_secure,
        timeout_s=settings.cloudinary_timeout_s,
    )
    return CloudinaryBlobStore(config, http)


def build_app(settings: Settings, overrides: Overrides | None = None) -> AsgiFastStream:
    over = overrides or Overrides()
    runtime = ServiceRuntime.create(settings, indexes=INDEXES)
    store = MongoAnalysisStore(runtime.db)
    events = BrokerEventPublisher(runtime.broker)
    blob_http = httpx.AsyncClient(timeout=settings.cloudinary_timeout_s)
    fetch_http = httpx.AsyncClient(timeout=settings.fetch_timeout_s, transport=over.fetch_transport)
    vision, openai_client = build_vision(settings)
    deps = RunDeps(
        store=store,
        blobs=build_blob_store(settings, blob_http),
        fetcher=ChartFetcher(
            fetch_http, max_bytes=settings.fetch_max_bytes, timeout_s=settings.fetch_timeout_s, resolver=over.resolver
        ),
        vision=vision,
        events=events,
        clock=over.clock,
        image_max_bytes=settings.image_max_bytes,
    )
    jobs = BrokerJobScheduler(runtime.broker)
    policy = JobPolicy(attempts=settings.job_attempts, first_retry_delay_ms=settings.retry_delay_ms)
    register_handlers(
        runtime.broker,
        HandlerDeps(store=store, events=events, jobs=jobs, clock=over.clock, policy=policy),
        consumer=settings.consumer_name,
    )
    worker = Worker(
        Queues.CHART_ANALYSIS,
        analysis_job_handler(deps),
        payload_type=AnalysisJob,
        redis_url=settings.redis_url,
        consumer=settings.consumer_name,
        concurrency=settings.worker_concurrency,
        limiter=(settings.rate_limit_jobs, settings.rate_limit_per_s),
        options=WorkerOptions(visibility_timeout_s=settings.visibility_timeout_s),
    )

    scheduled_worker = Worker(
        SCHEDULED_ANALYSIS_QUEUE,
        scheduled_analysis_handler(
            ScheduledDeps(
                store=store,
                jobs=jobs,
                usage=RpcUsage(runtime.broker, timeout_s=settings.rpc_timeout_s),
                clock=over.clock,
                policy=policy,
            )
        ),
        payload_type=ScheduledAnalysisJob,
        redis_url=settings.redis_url,
        consumer=settings.consumer_name,
        concurrency=settings.scheduled_concurrency,
    )

    @worker.on_failed
    async def fail_abandoned_analysis(event: JobFailed | JobRetrying) -> None:
        if isinstance(event, JobFailed):
            await give_up(event.job_id, event.error, deps)

    async def close_clients() -> None:
        await blob_http.aclose()
        await fetch_http.aclose()
        if openai_client is not None:
            await openai_client.close()

    hooks = worker_hooks(worker, scheduled_worker, drain_timeout_s=settings.shutdown_timeout_s)
    return runtime.app(
        description="Owns chart analyses: their lifecycle, the vision model calls and their results.",
        after_startup=hooks.after_startup,
        on_shutdown=[*hooks.on_shutdown, close_clients],
    )
