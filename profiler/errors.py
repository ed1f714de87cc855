"""The profiler's one error type."""

from __future__ import annotations


class ProfilingError(Exception):
    """Profiling cannot produce a result; the message says what is wrong and what to do about it."""
