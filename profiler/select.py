"""Dynamo's selection rule (profile_sla.py): among points that meet the SLA, the highest throughput per GPU;
if none meets it, the lowest latency, marked as not meeting the SLA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Pick:
    index: int
    meets_sla: bool


def pick(latencies: Sequence[float], throughputs: Sequence[float], target: float) -> Pick:
    """Index of the chosen point. Ties go to the first point, as `numpy.argmax`/`argmin` do."""
    if not latencies:
        raise ValueError("no points to choose from")
    if min(latencies) > target:
        return Pick(min(range(len(latencies)), key=lambda i: latencies[i]), meets_sla=False)
    valid = [i for i, latency in enumerate(latencies) if latency <= target]
    return Pick(max(valid, key=lambda i: (throughputs[i], -i)), meets_sla=True)
