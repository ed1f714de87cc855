"""Request traces: Mooncake JSONL and the Azure LLM inference CSVs, read into one form and written as Mooncake.

- Mooncake JSONL: one object per line with `timestamp` (ms), `input_length`, `output_length` and `hash_ids`
  (one id per `block_size`-token block of the prompt; equal ids = a shared prefix, which the simulator's prefix
  cache and KV router see).
- Azure 2023/2024 CSV: `TIMESTAMP`, `ContextTokens`, `GeneratedTokens`. These traces carry no prompt content,
  so every request gets its own hash ids (no prefix reuse).

`scale_rate(requests, factor)` multiplies the request rate while keeping the trace's shape over time: each
request is emitted `factor` times on average (copies 1 ms apart, each with its own hash ids).
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MOONCAKE_BLOCK_SIZE = 512  # tokens per hash id in Mooncake's published traces


class TraceError(ValueError):
    """A trace that cannot be read; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Request:
    arrival_ms: float
    isl: int
    osl: int
    hash_ids: tuple[int, ...]


def _positive_int(path: Path, line: int, field: str, value) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        raise TraceError(f"{path}, line {line}: field '{field}' must be a number, got {value!r}") from None
    if number < 0:
        raise TraceError(f"{path}, line {line}: field '{field}' must not be negative, got {number}")
    return number


def _read_mooncake(path: Path) -> list[Request]:
    requests = []
    with path.open() as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise TraceError(f"{path}, line {line_number}: not JSON ({error}); expected one Mooncake "
                                 "request object per line") from None
            for field in ("timestamp", "input_length", "output_length"):
                if field not in row:
                    raise TraceError(f"{path}, line {line_number}: field '{field}' is missing")
            hash_ids = row.get("hash_ids") or []
            if not isinstance(hash_ids, list) or not all(isinstance(h, int) for h in hash_ids):
                raise TraceError(f"{path}, line {line_number}: field 'hash_ids' must be a list of integers")
            requests.append(Request(float(row["timestamp"]), _positive_int(path, line_number, "input_length",
                                                                            row["input_length"]),
                                    max(1, _positive_int(path, line_number, "output_length", row["output_length"])),
                                    tuple(hash_ids)))
    return requests


def _read_azure(path: Path, block_size: int) -> list[Request]:
    rows = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"} - set(reader.fieldnames or ())
        if missing:
            raise TraceError(f"{path}: column(s) {', '.join(sorted(missing))} missing; an Azure LLM inference "
                             "CSV has TIMESTAMP, ContextTokens, GeneratedTokens")
        for line_number, row in enumerate(reader, start=2):
            try:
                stamp = datetime.fromisoformat(row["TIMESTAMP"][:26]).timestamp()
            except ValueError:
                raise TraceError(f"{path}, line {line_number}: field 'TIMESTAMP' is not a date and time, got "
                                 f"{row['TIMESTAMP']!r}") from None
            rows.append((stamp, _positive_int(path, line_number, "ContextTokens", row["ContextTokens"]),
                         max(1, _positive_int(path, line_number, "GeneratedTokens", row["GeneratedTokens"]))))
    if not rows:
        return []
    start = min(stamp for stamp, _, _ in rows)
    next_id = 0
    requests = []
    for stamp, isl, osl in sorted(rows):
        blocks = math.ceil(isl / block_size)
        requests.append(Request((stamp - start) * 1000.0, isl, osl, tuple(range(next_id, next_id + blocks))))
        next_id += blocks
    return requests


def read_trace(path: str | Path, block_size: int = MOONCAKE_BLOCK_SIZE) -> list[Request]:
    """The requests of a Mooncake JSONL or Azure CSV trace, by arrival time (starting at 0 ms)."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"{path}: trace file not found")
    with path.open() as handle:
        first = handle.readline()
    requests = _read_mooncake(path) if first.lstrip().startswith("{") else _read_azure(path, block_size)
    if not requests:
        raise TraceError(f"{path}: the trace has no requests")
    requests.sort(key=lambda r: r.arrival_ms)
    start = requests[0].arrival_ms
    return [Request(r.arrival_ms - start, r.isl, r.osl, r.hash_ids) for r in requests]


def scale_rate(requests: list[Request], factor: float, seed: int = 0) -> list[Request]:
    """About `factor` times the requests with the same shape over time (copies 1 ms apart, own hash ids)."""
    if factor == 1.0:
        return list(requests)
    if factor <= 0:
        raise ValueError("the rate scale must be positive")
    rng = random.Random(seed)
    offset = 1 + max((max(r.hash_ids, default=0) for r in requests), default=0)
    scaled = []
    for request in requests:
        copies = int(factor) + (rng.random() < factor - int(factor))
        for copy in range(copies):
            ids = tuple(h + copy * offset for h in request.hash_ids)
            scaled.append(Request(request.arrival_ms + copy, request.isl, request.osl, ids))
    scaled.sort(key=lambda r: r.arrival_ms)
    return scaled


def write_mooncake(requests: list[Request], path: str | Path) -> Path:
    """The requests as Mooncake JSONL (integer millisecond timestamps)."""
    path = Path(path)
    with path.open("w") as handle:
        for r in requests:
            handle.write(json.dumps({"timestamp": int(round(r.arrival_ms)), "input_length": r.isl,
                                     "output_length": r.osl, "hash_ids": list(r.hash_ids)}) + "\n")
    return path
