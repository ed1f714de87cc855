"""KV cache capacity from the frontend's Prometheus metrics: `dynamo_frontend_model_total_kv_blocks` x
`dynamo_frontend_model_kv_cache_block_size` for the served model (the series Dynamo's planner reads)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

TOTAL_BLOCKS = "dynamo_frontend_model_total_kv_blocks"
BLOCK_SIZE = "dynamo_frontend_model_kv_cache_block_size"


def kv_capacity_tokens(metrics_url: str | None, model: str, timeout_s: float = 10.0) -> int | None:
    """KV tokens the engine holds, or None when the endpoint does not publish both series."""
    if not metrics_url:
        return None
    try:
        text = httpx.get(metrics_url, timeout=timeout_s).text
    except httpx.HTTPError:
        return None
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (TOTAL_BLOCKS, BLOCK_SIZE) and sample.labels.get("model", model) == model:
                values[sample.name] = sample.value
    if TOTAL_BLOCKS not in values or BLOCK_SIZE not in values:
        return None
    return int(values[TOTAL_BLOCKS] * values[BLOCK_SIZE])
