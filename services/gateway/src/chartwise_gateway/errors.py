"""The one error envelope, and the one place where an error code becomes an HTTP status."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartwise_contracts import utcnow
from chartwise_runtime.errors import DomainError
from chartwise_runtime.logging import get_logger

log = get_logger(__name__)


class Unauthenticated(DomainError):
    code = "unauthenticated"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class BadRequest(DomainError):
    code = "bad_request"


STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_input": 422,
    "quota_exceeded": 429,
    "rate_limited": 429,
    "service_unavailable": 503,
}
"""Every error code a client can see, with its one HTTP status; unknown codes from a service answer 502."""

CODE_BY_STATUS = {status: code for code, status in STATUS_BY_CODE.items() if code != "rate_limited"}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable; see docs/api.md for the list.")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """The body of every failed request."""

    error: ErrorDetail


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details or {}))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def retry_after_seconds(resets_at: datetime | None) -> int | None:
    if resets_at is None:
        return None
    return max(1, math.ceil((resets_at - utcnow()).total_seconds()))


def _domain_error_response(error: DomainError) -> JSONResponse:
    status = STATUS_BY_CODE.get(error.code, 502)
    headers: dict[str, str] = {}
    retry_after = error.details.get("retry_after_s")
    resets_at = error.details.get("resets_at")
    if retry_after is None and isinstance(resets_at, str):
        retry_after = retry_after_seconds(datetime.fromisoformat(resets_at))
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    elif status == 503:
        headers["Retry-After"] = "1"
    if status == 502:
        log.warning("backing service answered an unknown error code", code=error.code, reason=error.message)
        return error_response(502, "upstream_error", "a backing service failed", {"upstream_code": error.code})
    return error_response(status, error.code, error.message, error.details, headers)


async def _on_domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return _domain_error_response(error)


async def _on_http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = CODE_BY_STATUS.get(error.status_code, "error")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    return error_response(error.status_code, code, message, headers=dict(error.headers or {}))


def _jsonable_problem(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": error.get("type"),
    }


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [_jsonable_problem(e) for e in error.errors()]
    if any(p["type"] == "json_invalid" for p in problems):
        return error_response(400, "bad_request", "the body is not valid JSON", {"errors": problems})
    return error_response(422, "invalid_input", "the request does not match the API's schema", {"errors": problems})


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "the gateway failed to handle the request")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed request",
        401: "Missing or invalid credential",
        404: "Not found (or not yours)",
        422: "Invalid input",
        429: "Rate limited or quota exceeded",
        503: "A backing service did not answer in time",
    }.items()
}
"""The error responses every route may give, for the OpenAPI document."""
