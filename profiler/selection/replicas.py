"""Initial replica counts from the expected load (Dynamo 1.x's `workload.requestRate` / `concurrency`).

The same arithmetic as the planner's replica formulas, on the chosen points with their safety margins:
prefill replicas = ceil(rate x ISL x (1 + TTFT margin) / (prefill tokens/s/GPU x GPUs per engine)),
decode replicas = ceil(rate x (OSL - 1) x (1 + ITL margin) / (decode tokens/s/GPU x GPUs per engine)).
A concurrency becomes a rate by Little's law over one request's estimated time in the system,
TTFT + (OSL - 1) x ITL at the chosen points. With the decode replicas rounded up, each engine holds at
most the chosen point's concurrency, so its ITL stays within what was picked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from profiler.config import SLAConfig, WorkloadConfig
from profiler.selection.choose import Candidate
from profiler.selection.policy import SelectionPolicy


@dataclass(frozen=True)
class ReplicaPlan:
    prefill: int
    decode: int
    request_rate: float  # requests/s the replicas are sized for
    basis: str  # what the rate came from, for the report

    def decode_concurrency_per_engine(self, decode: Candidate, sla: SLAConfig, itl_ms: float) -> float:
        """Requests in flight on each decode engine at this rate, if each runs at `itl_ms`."""
        return self.request_rate * max(sla.osl - 1, 1) * itl_ms / 1000 / self.decode


def size_replicas(workload: WorkloadConfig, sla: SLAConfig, prefill: Candidate, decode: Candidate,
                  policy: SelectionPolicy) -> ReplicaPlan | None:
    """Replica counts that carry the expected load within the SLA; None when no load is given."""
    steps = max(sla.osl - 1, 1)
    if workload.request_rate is not None:
        rate, basis = workload.request_rate, f"workload.requestRate {workload.request_rate:g} requests/s"
    elif workload.concurrency is not None:
        seconds = (prefill.latency_ms + steps * decode.latency_ms) / 1000
        rate = workload.concurrency / seconds
        basis = (f"workload.concurrency {workload.concurrency:g}: {rate:.2f} requests/s by Little's law over "
                 f"{seconds:.2f} s per request (TTFT + (OSL - 1) x ITL)")
    else:
        return None
    prefill_capacity = prefill.thpt_per_gpu * prefill.mapping.num_gpus / (1 + policy.ttft_margin)
    decode_capacity = decode.thpt_per_gpu * decode.mapping.num_gpus / (1 + policy.itl_margin)
    prefill_replicas = math.ceil(rate * sla.isl / prefill_capacity) if prefill_capacity > 0 else 1
    decode_replicas = math.ceil(rate * steps / decode_capacity) if decode_capacity > 0 else 1
    return ReplicaPlan(max(prefill_replicas, 1), max(decode_replicas, 1), rate, basis)
