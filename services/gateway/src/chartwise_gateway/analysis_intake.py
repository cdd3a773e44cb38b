"""Reading a new analysis request, from JSON (`chartUrls`) or from a multipart upload, into one shape."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from chartwise_contracts.analysis_api import MAX_CHARTS, MAX_STRATEGY_CHARS
from chartwise_gateway.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from chartwise_gateway.images import ImageLimits, decode_data_url
from chartwise_runtime.errors import InvalidInput

MAX_DELAY_MS = 86_400_000


class AnalysisMetadataIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    strategy_and_criteria: str = Field(
        default="", alias="strategyAndCriteria", max_length=MAX_STRATEGY_CHARS, description="The trader's strategy."
    )
    risk: int | None = Field(default=None, ge=0, le=100, description="0-100; 0 or absent means not given.")


class AnalysisJobSchema(BaseModel):
    """A new analysis as JSON: each chart a base64 `data:` URL (PNG, JPEG, WebP) or an https URL."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    chart_urls: list[str] = Field(alias="chartUrls", min_length=1, max_length=MAX_CHARTS)
    metadata: AnalysisMetadataIn = Field(default_factory=AnalysisMetadataIn)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    delay: int | None = Field(default=None, ge=0, le=MAX_DELAY_MS, description="Start no earlier than this, in ms.")


class AnalysisUploadForm(BaseModel):
    """A new analysis as multipart/form-data: the files in `charts`, the rest as fields."""

    charts: list[bytes] = Field(json_schema_extra={"items": {"type": "string", "format": "binary"}})
    metadata: str | None = Field(default=None, description="JSON: {strategyAndCriteria, risk}.")
    name: str | None = None
    delay: int | None = Field(default=None, ge=0, le=MAX_DELAY_MS)


@dataclass(frozen=True, slots=True)
class ChartSource:
    """One chart as the client gave it: uploaded (or data URL) bytes, or an https URL."""

    label: str
    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class AnalysisIntake:
    charts: list[ChartSource]
    metadata: AnalysisMetadataIn
    name: str | None
    delay_ms: int | None

    def fingerprint_parts(self) -> list[str]:
        parts = [hashlib.sha256(c.data).hexdigest() if c.data is not None else f"url:{c.url}" for c in self.charts]
        parts.append(self.metadata.model_dump_json())
        parts.append(json.dumps([self.name, self.delay_ms]))
        return parts


async def read_intake(request: Request, *, limits: ImageLimits, max_charts: int) -> AnalysisIntake:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return _from_json(await request.body(), limits=limits)
    if content_type == "multipart/form-data":
        return await _from_form(request, limits=limits, max_charts=max_charts)
    raise UnsupportedMediaType(
        "send application/json (chartUrls) or multipart/form-data (charts)",
        details={"allowed": ["application/json", "multipart/form-data"]},
    )


def _problems(error: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in error.errors()]


def _from_json(raw: bytes, *, limits: ImageLimits) -> AnalysisIntake:
    try:
        body = AnalysisJobSchema.model_validate_json(raw)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise BadRequest("the body is not valid JSON") from error
        raise InvalidInput("the analysis request is invalid", details={"errors": _problems(error)}) from error
    charts = [_source(url, index, limits=limits) for index, url in enumerate(body.chart_urls, start=1)]
    return AnalysisIntake(charts=charts, metadata=body.metadata, name=body.name, delay_ms=body.delay)


HTTPS_URL = re.compile(r"https://[^\s]{1,2040}")
"""The https chart URLs accepted: a host at least, no white space, at most 2,048 characters in all."""


def _source(url: str, index: int, *, limits: ImageLimits) -> ChartSource:
    label = f"chart {index}"
    if url.startswith("data:"):
        return ChartSource(label=label, data=decode_data_url(url, limits=limits, label=label))
    if HTTPS_URL.fullmatch(url):
        return ChartSource(label=label, url=url)
    raise InvalidInput(f"{label} must be a data: URL or an https URL", details={"image": label})


async def _from_form(request: Request, *, limits: ImageLimits, max_charts: int) -> AnalysisIntake:
    form = await request.form(max_files=max_charts + 1, max_fields=10, max_part_size=64 * 1024)
    try:
        uploads = [item for item in form.getlist("charts") if isinstance(item, UploadFile)]
        if not uploads:
            raise InvalidInput("upload at least one chart image in the field `charts`")
        charts = [await _read_upload(upload, index, limits=limits) for index, upload in enumerate(uploads, start=1)]
        metadata = _form_metadata(form.get("metadata"))
        name = _text_field(form.get("name"))
        delay_text = _text_field(form.get("delay"))
    finally:
        await form.close()
    try:
        fields = AnalysisJobSchema.model_validate(
            {"chartUrls": ["form"], "metadata": metadata, "name": name, "delay": delay_text}
        )
    except ValidationError as error:
        raise InvalidInput("the analysis request is invalid", details={"errors": _problems(error)}) from error
    return AnalysisIntake(charts=charts, metadata=fields.metadata, name=fields.name, delay_ms=fields.delay)


def _text_field(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("only `charts` may hold files")
    return value


def _form_metadata(value: object) -> dict[str, Any]:
    text = _text_field(value)
    if text is None:
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput("`metadata` must be a JSON object") from error
    if not isinstance(parsed, dict):
        raise InvalidInput("`metadata` must be a JSON object")
    return parsed


async def _read_upload(upload: UploadFile, index: int, *, limits: ImageLimits) -> ChartSource:
    label = upload.filename or f"chart {index}"
    data = await upload.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"{label} is larger than {limits.max_bytes} bytes", details={"image": label, "max_bytes": limits.max_bytes}
        )
    return ChartSource(label=label, data=data)
