"""The Pareto front of latency (lower is better) vs throughput per GPU (higher is better)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def pareto_front(latencies: Sequence[float], throughputs: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points, by ascending latency (Dynamo's `compute_pareto`: a point stays when
    no other has lower-or-equal latency and higher-or-equal throughput, one of them strictly). Non-finite points
    are left out; of identical points the first is kept."""
    if len(latencies) != len(throughputs):
        raise ValueError("latencies and throughputs differ in length")
    order = sorted(
        (i for i in range(len(latencies)) if math.isfinite(latencies[i]) and math.isfinite(throughputs[i])),
        key=lambda i: (latencies[i], -throughputs[i], i),
    )
    front: list[int] = []
    best = -math.inf
    for index in order:
        if throughputs[index] > best:
            front.append(index)
            best = throughputs[index]
    return front
