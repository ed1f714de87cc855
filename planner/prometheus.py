"""The frontend's metrics over one adjustment interval, read from Prometheus (Dynamo's queries, §4.4).

For a window W (the adjustment interval): the average of metric m is
`increase(dynamo_frontend_<m>_sum[W]) / increase(dynamo_frontend_<m>_count[W])` and the request count is
`increase(dynamo_frontend_requests_total[W])` (a count over the window, not a rate). Series are filtered by the
`dynamo_namespace` label and, when a model name is given, the `model` label (case-insensitively; Dynamo
lower-cases the served model name). Unlike Dynamo, series are summed before dividing, so an average over two
frontends is weighted by their request counts. The prefix-cache hit rate is
`increase(dynamo_frontend_cached_tokens_sum[W]) / increase(dynamo_frontend_input_sequence_tokens_sum[W])`, the
share of prompt tokens served from cache (`None` where the frontend has no `cached_tokens`).

A missing value is `None`, never 0: the policy must tell "no data" (hold) from "no traffic" (scale down).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass

import httpx

from gitops_sla.git.auth import redact_url
from gitops_sla.secrets import http_client_url

log = logging.getLogger(__name__)

AVERAGED_METRICS = {
    "ttft_ms": ("time_to_first_token_seconds", 1000.0),
    "itl_ms": ("inter_token_latency_seconds", 1000.0),
    "request_duration_s": ("request_duration_seconds", 1.0),
    "isl": ("input_sequence_tokens", 1.0),
    "osl": ("output_sequence_tokens", 1.0),
}
REQUESTS_METRIC = "dynamo_frontend_requests_total"
# prompt tokens served from the prefix cache, per request (Dynamo 1.x's frontend; absent before): over the window,
# its sum over the prompt tokens' sum is the prefix-cache hit rate
CACHED_TOKENS_METRIC = "dynamo_frontend_cached_tokens"


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not be reached or answered with an error."""


@dataclass(frozen=True)
class Observation:
    """Frontend metrics over one window; `None` where Prometheus had no (finite) value."""

    num_req: float | None
    isl: float | None
    osl: float | None
    ttft_ms: float | None
    itl_ms: float | None
    request_duration_s: float | None
    window_s: int
    kv_hit_rate: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def label_selector(dynamo_namespace: str | None, model_name: str | None) -> str:
    """`{dynamo_namespace="ns",model=~"(?i)name"}` (empty parts left out)."""
    matchers = []
    if dynamo_namespace:
        matchers.append(f'dynamo_namespace="{_escape_label_value(dynamo_namespace)}"')
    if model_name:
        matchers.append(f'model=~"{_escape_label_value("(?i)" + re.escape(model_name))}"')
    return "{" + ",".join(matchers) + "}"


def queries(window_s: int, dynamo_namespace: str | None, model_name: str | None) -> dict[str, str]:
    """The PromQL for each field of `Observation` (TTFT/ITL in ms)."""
    selector = label_selector(dynamo_namespace, model_name)
    window = f"{window_s}s"
    result = {"num_req": f"sum(increase({REQUESTS_METRIC}{selector}[{window}]))"}
    for field, (metric, scale) in AVERAGED_METRICS.items():
        base = f"dynamo_frontend_{metric}"
        ratio = (f"sum(increase({base}_sum{selector}[{window}])) / "
                 f"sum(increase({base}_count{selector}[{window}]))")
        result[field] = ratio if scale == 1.0 else f"({ratio}) * {scale:g}"
    result["kv_hit_rate"] = (f"sum(increase({CACHED_TOKENS_METRIC}_sum{selector}[{window}])) / "
                             f"sum(increase(dynamo_frontend_input_sequence_tokens_sum{selector}[{window}]))")
    return result


class PrometheusClient:
    """Reads one `Observation` per call from Prometheus's HTTP API."""

    def __init__(self, endpoint: str, dynamo_namespace: str | None, model_name: str | None,
                 timeout_s: float = 5.0, http: httpx.Client | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.display_endpoint = redact_url(self.endpoint)  # for messages: no `user:password@`
        self.dynamo_namespace = dynamo_namespace
        self.model_name = model_name
        if http is None:  # httpx logs every request's URL: the client's has no `user:password@`
            base_url, url_auth = http_client_url(self.endpoint)
            http = httpx.Client(base_url=base_url, auth=url_auth, timeout=timeout_s)
        self._http = http

    def close(self) -> None:
        self._http.close()

    def _instant(self, query: str, at: float | None) -> float | None:
        params: dict[str, str | float] = {"query": query}
        if at is not None:
            params["time"] = at
        try:
            response = self._http.get("/api/v1/query", params=params)
        except httpx.HTTPError as error:
            raise PrometheusUnavailable(f"Prometheus at {self.display_endpoint} is unreachable: "
                                        f"{redact_url(str(error))}; check --metric-pulling-prometheus-endpoint"
                                        ) from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusUnavailable(f"Prometheus at {self.display_endpoint} answered HTTP {response.status_code} "
                                        "with a body that is not JSON") from None
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusUnavailable(f"Prometheus at {self.display_endpoint} rejected query {query!r}: "
                                        f"HTTP {response.status_code} {body.get('error', '')}".rstrip())
        samples = body.get("data", {}).get("result", [])
        if not samples:
            return None
        value = float(samples[0]["value"][1])
        return value if math.isfinite(value) else None

    def observe(self, window_s: int, at: float | None = None) -> Observation:
        """The frontend's metrics over the `window_s` seconds before `at` (default: now)."""
        values = {field: self._instant(query, at)
                  for field, query in queries(window_s, self.dynamo_namespace, self.model_name).items()}
        return Observation(window_s=window_s, **values)
