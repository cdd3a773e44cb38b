"""What a job handler raises to steer the outcome of its run."""

from __future__ import annotations


class DoNotRetry(Exception):
    """Fails the job at once, whatever attempts remain: retrying cannot help (bad input, a refused request)."""


class JobCancelledError(Exception):
    """Raised by `JobContext.raise_if_cancelled()`: the run stops and the job ends as cancelled."""
