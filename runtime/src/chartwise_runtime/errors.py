"""Failures a caller can act on. Services raise them; the gateway maps each code to one HTTP status."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Forbidden(DomainError):
    code = "forbidden"


class QuotaExceeded(DomainError):
    code = "quota_exceeded"


class RateLimited(DomainError):
    code = "rate_limited"


class InternalError(DomainError):
    """The service failed in a way it did not foresee."""

    code = "internal_error"


class ServiceUnavailable(DomainError):
    """A backing service did not answer in time, or answered that it cannot serve now."""

    code = "service_unavailable"


ERRORS_BY_CODE: dict[str, type[DomainError]] = {
    cls.code: cls
    for cls in (
        InvalidInput,
        NotFound,
        Conflict,
        Forbidden,
        QuotaExceeded,
        RateLimited,
        InternalError,
        ServiceUnavailable,
    )
}


def error_from_code(code: str, message: str, details: dict[str, Any] | None = None) -> DomainError:
    cls = ERRORS_BY_CODE.get(code, DomainError)
    error = cls(message, details=details)
    if cls is DomainError:
        error.details = {**error.details, "code": code}
    return error
