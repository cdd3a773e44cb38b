"""Why a run of an analysis stops: failures worth retrying, and failures that retrying cannot mend."""

from __future__ import annotations


class AnalysisRunError(Exception):
    """A run of an analysis did not finish; `retryable` says whether another run may succeed."""

    retryable: bool = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidImage(AnalysisRunError):
    """A chart is missing, too large, or not a PNG, JPEG or WebP image."""


class ChartUnreachable(AnalysisRunError):
    """A chart URL was refused (not https, a private address) or answered with something unusable."""


class ChartFetchFailed(AnalysisRunError):
    """A chart URL did not answer in time or failed on the network; it may answer later."""

    retryable = True


class ProviderBusy(AnalysisRunError):
    """The vision provider limited our rate, timed out or was unavailable."""

    retryable = True


class ProviderRefused(AnalysisRunError):
    """The vision provider refused the request, or answered outside the schema."""


class ProviderNotAvailable(AnalysisRunError):
    """The configured vision provider cannot run in this deployment."""
