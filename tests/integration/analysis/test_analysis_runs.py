"""An analysis from request to stored result: the real service, scheduler, Redis and MongoDB, with the OpenAI
SDK talking to a local chat-completions server."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import httpx
import pytest

from chartwise_analysis.app import build_vision
from chartwise_analysis.clock import system_clock
from chartwise_analysis.fetch import ChartFetcher
from chartwise_analysis.intake import new_analysis
from chartwise_analysis.outbound import BrokerEventPublisher, EventPublisher
from chartwise_analysis.processing import Attempt, RunDeps, RunOutcome, give_up, run_analysis
from chartwise_analysis.repository import MongoAnalysisStore
from chartwise_contracts.analysis import AnalysisCompleted, AnalysisEvent, AnalysisFailed
from chartwise_contracts.analysis_api import AnalysisStatus, ChartReference
from chartwise_runtime.blobs import LocalBlobStore
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.analysis.conftest import Service, analysis_request, chart_answer, not_a_chart_answer, png


async def stored_chart(blobs: LocalBlobStore, seed: int = 0, timeframe: str | None = None) -> ChartReference:
    blob = await blobs.put(png(seed=seed), content_type="image/png", folder="chart_analysis")
    return ChartReference(blob_key=blob.key, timeframe=timeframe)


async def test_one_chart_is_analysed_and_stored_with_its_structured_result(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.answer(chart_answer()))
    chart = await stored_chart(blobs)

    await service.request_analysis(analysis_request("a-single", chart, strategy="Breakout", risk=20))
    analysis = await service.finished("a-single")

    assert analysis.status == AnalysisStatus.COMPLETED
    assert analysis.result is not None
    assert analysis.result.bias == "bullish"
    assert analysis.result.trade_plan is not None
    assert analysis.result.trade_plan.take_profits == [205.0, 212.0]
    assert analysis.model == "gpt-4o-2024-08-06"
    assert analysis.usage is not None
    assert analysis.usage.total_tokens == 1500
    assert analysis.timings is not None
    assert analysis.attempts == 1
    assert analysis.risk_band == "low"
    [sent] = fake_openai.requests
    assert sent["model"] == "gpt-4o"
    assert sent["temperature"] == 0
    assert sent["max_tokens"] == 2000
    assert sent["response_format"]["json_schema"]["strict"] is True
    [image] = fake_openai.images_of(sent)
    assert image == "data:image/png;base64," + base64.b64encode(png()).decode()
    assert sent["messages"][1]["content"][1]["image_url"]["detail"] == "high"
    text = fake_openai.texts_of(sent)
    assert "Analyse this chart" in text
    assert '"""Breakout"""' in text
    assert "Risk tolerance: low" in text
    events = await service.announced("a-single")
    assert [type(e) for e in events] == [AnalysisCompleted]
    assert events[0].meta.actor == "user-1"


async def test_several_timeframes_use_the_multi_chart_prompt(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    timeframes = [
        {"timeframe": "1D", "bias": "bullish", "notes": "uptrend"},
        {"timeframe": "1h", "bias": "neutral", "notes": "consolidating under resistance"},
    ]
    fake_openai.script(fake_openai.answer(chart_answer(timeframes=timeframes, dominant_timeframe="1D")))
    charts = [await stored_chart(blobs, seed=1, timeframe="1D"), await stored_chart(blobs, seed=2, timeframe="1h")]

    await service.request_analysis(analysis_request("a-multi", *charts))
    analysis = await service.finished("a-multi")

    assert analysis.status == AnalysisStatus.COMPLETED
    assert analysis.result is not None
    assert [t.timeframe for t in analysis.result.timeframes] == ["1D", "1h"]
    assert analysis.result.dominant_timeframe == "1D"
    [sent] = fake_openai.requests
    assert len(fake_openai.images_of(sent)) == 2
    text = fake_openai.texts_of(sent)
    assert "same asset on different timeframes (1D, 1h)" in text
    assert "which timeframe dominates" in text


async def test_a_picture_that_is_not_a_chart_completes_with_that_outcome(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.answer(not_a_chart_answer()))

    await service.request_analysis(analysis_request("a-cat", await stored_chart(blobs)))
    analysis = await service.finished("a-cat")

    assert analysis.status == AnalysisStatus.COMPLETED
    assert analysis.result is not None
    assert analysis.result.is_chart is False
    assert analysis.result.trade_plan is None
    assert "price chart is needed" in analysis.result.markdown
    assert [type(e) for e in await service.announced("a-cat")] == [AnalysisCompleted]


async def test_a_redelivered_request_stores_one_document_and_calls_the_model_once(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.answer(chart_answer()))
    command = analysis_request("a-twice", await stored_chart(blobs))

    await service.request_analysis(command)
    await service.request_analysis(command)
    await service.finished("a-twice")
    # A third delivery after completion must not run the analysis again either.
    await service.request_analysis(command)
    await service.finished("a-twice")

    assert await service.db["ChartAnalysis"].count_documents({}) == 1
    assert len(fake_openai.requests) == 1


async def test_a_rate_limited_call_is_retried_and_then_succeeds(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.rate_limited(), fake_openai.answer(chart_answer()))

    await service.request_analysis(analysis_request("a-retry", await stored_chart(blobs)))
    analysis = await service.finished("a-retry")

    assert analysis.status == AnalysisStatus.COMPLETED
    assert analysis.attempts == 2
    assert len(fake_openai.requests) == 2
    assert [type(e) for e in await service.announced("a-retry")] == [AnalysisCompleted]


async def test_a_provider_that_keeps_timing_out_fails_the_analysis_after_the_last_attempt(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.default = lambda _body: fake_openai.stalled(5.0)

    await service.request_analysis(analysis_request("a-timeout", await stored_chart(blobs)))
    analysis = await service.finished("a-timeout", timeout=15.0)

    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error is not None
    assert "APITimeoutError" in analysis.error
    assert analysis.attempts == service.settings.job_attempts
    assert len(fake_openai.requests) == service.settings.job_attempts
    # The last run announces the failure, and the job's final failure announces the stored outcome again.
    events = await service.announced("a-timeout", 2)
    assert [type(e) for e in events] == [AnalysisFailed, AnalysisFailed]


async def test_a_malformed_answer_fails_at_once(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.malformed())

    await service.request_analysis(analysis_request("a-garbled", await stored_chart(blobs)))
    analysis = await service.finished("a-garbled")

    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error is not None
    assert "does not match the schema" in analysis.error
    assert len(fake_openai.requests) == 1
    events = await service.announced("a-garbled", 2)
    assert all(isinstance(event, AnalysisFailed) and event.reason == analysis.error for event in events)


async def test_an_answer_with_a_plan_but_no_setup_is_refused_as_inconsistent(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.answer(chart_answer(setup_found=False)))

    await service.request_analysis(analysis_request("a-inconsistent", await stored_chart(blobs)))
    analysis = await service.finished("a-inconsistent")

    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error is not None
    assert "inconsistent" in analysis.error


async def test_an_invalid_image_fails_at_once_without_calling_the_model(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    blob = await blobs.put(b"%PDF-1.7 not an image", content_type="image/png", folder="chart_analysis")

    await service.request_analysis(analysis_request("a-pdf", ChartReference(blob_key=blob.key)))
    analysis = await service.finished("a-pdf")

    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error == "chart 1 is not a PNG, JPEG or WebP image"
    assert analysis.attempts == 1
    assert fake_openai.requests == []


async def test_a_missing_blob_fails_with_a_clear_reason(service: Service, fake_openai: FakeOpenAI) -> None:
    await service.request_analysis(analysis_request("a-lost", ChartReference(blob_key="chart_analysis/nothing.png")))
    analysis = await service.finished("a-lost")

    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error == "chart 1 was not found in the blob store"
    assert fake_openai.requests == []


@pytest.mark.parametrize("settings_overrides", [{"vision_provider": "local"}])
async def test_the_local_provider_refuses_plainly_until_the_offline_reader_exists(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    await service.request_analysis(analysis_request("a-local", await stored_chart(blobs)))
    analysis = await service.finished("a-local")

    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error is not None
    assert "offline chart reader" in analysis.error
    assert fake_openai.requests == []


async def test_a_job_run_for_a_completed_analysis_calls_no_model_and_announces_again(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.answer(chart_answer()))
    await service.request_analysis(analysis_request("a-done", await stored_chart(blobs)))
    await service.finished("a-done")
    deps = _deps_of(service, blobs)
    reports: list[dict[str, Any]] = []

    async def progress(value: dict[str, Any]) -> None:
        reports.append(value)

    outcome = await run_analysis("a-done", Attempt(number=2, last=False), deps, progress)

    assert outcome is RunOutcome.COMPLETED
    assert len(fake_openai.requests) == 1
    assert reports == []
    assert [type(e) for e in await service.announced("a-done", 2)] == [AnalysisCompleted, AnalysisCompleted]


class FailsOnce:
    """Publishes through `inner`, except that the first publish fails as a lost broker connection would."""

    def __init__(self, inner: EventPublisher) -> None:
        self.inner = inner
        self.failed = False

    async def publish(self, event: AnalysisEvent) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("broker unreachable")
        await self.inner.publish(event)


async def test_a_stored_result_whose_announcement_failed_on_the_last_attempt_is_announced_anyway(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.answer(chart_answer()))
    # Stored directly, without a job: only the run below works on it.
    await MongoAnalysisStore(service.db).insert(
        new_analysis(analysis_request("a-unannounced", await stored_chart(blobs)), clock=system_clock)
    )
    deps = _deps_of(service, blobs)
    publisher = FailsOnce(deps.events)
    deps = replace(deps, events=publisher)

    async def progress(value: dict[str, Any]) -> None:
        return None

    with pytest.raises(ConnectionError):
        await run_analysis("a-unannounced", Attempt(number=3, last=True), deps, progress)

    analysis = await service.document("a-unannounced")
    assert analysis is not None
    assert analysis.status == AnalysisStatus.COMPLETED
    assert publisher.failed
    [event] = await service.announced("a-unannounced")
    assert isinstance(event, AnalysisCompleted)


async def test_giving_up_on_a_completed_analysis_announces_its_completion_again(
    service: Service, fake_openai: FakeOpenAI, blobs: LocalBlobStore
) -> None:
    fake_openai.script(fake_openai.answer(chart_answer()))
    await service.request_analysis(analysis_request("a-given-up", await stored_chart(blobs)))
    await service.finished("a-given-up")
    await service.announced("a-given-up")

    await give_up("a-given-up", "stalled: its worker stopped responding", _deps_of(service, blobs))

    analysis = await service.document("a-given-up")
    assert analysis is not None
    assert analysis.status == AnalysisStatus.COMPLETED
    assert analysis.error is None
    events = await service.announced("a-given-up", 2)
    assert [type(e) for e in events] == [AnalysisCompleted, AnalysisCompleted]


async def test_giving_up_on_an_unfinished_analysis_fails_it_and_announces_the_failure(
    service: Service, blobs: LocalBlobStore
) -> None:
    await MongoAnalysisStore(service.db).insert(
        new_analysis(analysis_request("a-abandoned", await stored_chart(blobs)), clock=system_clock)
    )

    await give_up("a-abandoned", "stalled: its worker stopped responding", _deps_of(service, blobs))

    analysis = await service.document("a-abandoned")
    assert analysis is not None
    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error == "stalled: its worker stopped responding"
    [event] = await service.announced("a-abandoned")
    assert isinstance(event, AnalysisFailed)
    assert event.reason == analysis.error


def _deps_of(service: Service, blobs: LocalBlobStore) -> RunDeps:
    """Run dependencies equal to the running app's, built the way its composition root builds them."""
    vision, _client = build_vision(service.settings)
    return RunDeps(
        store=MongoAnalysisStore(service.db),
        blobs=blobs,
        fetcher=ChartFetcher(httpx.AsyncClient(), max_bytes=1024, timeout_s=1.0),
        vision=vision,
        events=BrokerEventPublisher(service.broker),
        clock=system_clock,
        image_max_bytes=service.settings.image_max_bytes,
    )
