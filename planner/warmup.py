"""`--load-predictor-warmup-trace`: a Mooncake-style JSONL trace (`timestamp` in ms, `input_length`,
`output_length` per request) bucketed per adjustment interval, to warm the predictors up before the first step."""

from __future__ import annotations

import json
from pathlib import Path

from planner.prometheus import Observation


class WarmupTraceError(ValueError):
    """The trace cannot be read; the message names the file, the line and the field."""


def load_warmup_trace(path: str | Path, interval_s: int) -> list[Observation]:
    """One observation (request count, mean ISL, mean OSL) per interval of the trace, empty intervals included."""
    buckets: dict[int, list[tuple[float, float]]] = {}
    with Path(path).open() as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                bucket = int(float(record["timestamp"]) / 1000.0 // interval_s)
                buckets.setdefault(bucket, []).append((float(record["input_length"]), float(record["output_length"])))
            except (ValueError, KeyError, TypeError) as error:
                raise WarmupTraceError(f"{path}:{number}: expected a JSON object with timestamp (ms), input_length "
                                       f"and output_length ({error!r})") from None
    if not buckets:
        return []
    observations = []
    for bucket in range(min(buckets), max(buckets) + 1):
        requests = buckets.get(bucket, [])
        count = len(requests)
        observations.append(Observation(
            num_req=float(count), isl=sum(r[0] for r in requests) / count if count else None,
            osl=sum(r[1] for r in requests) / count if count else None, ttft_ms=None, itl_ms=None,
            request_duration_s=None, window_s=interval_s))
    return observations
