"""Dynamo 1.x's planner configuration (`PlannerConfig`, Dynamo 1.6.1): its keys, their aliases and kinds.

Dynamo 1.x's planner reads one JSON/YAML document (`python -m dynamo.planner --config FILE`) whose schema is
the pydantic model `dynamo.planner.config.planner_config.PlannerConfig`. Its fields are vendored in
`vendor/dynamo/planner_config_1.6.1.json` (extracted from PyPI `ai-dynamo==1.6.1`, Apache-2.0, by
`tests/support/dynamo_planner_config_fields.py`; a slow test checks the file against the package). The
validator checks a v1beta1 DGDR's `features.planner` against it, and the profiler renders configs with it.
"""

from __future__ import annotations

import difflib
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

PLANNER_CONFIG_FIELDS_FILE = Path(__file__).resolve().parent / "vendor/dynamo/planner_config_1.6.1.json"
# Dynamo 0.8 planner flag (dest) -> Dynamo 1.x PlannerConfig key, for the settings both planners have.
PLANNER_KEY_OF_FLAG: dict[str, str] = {
    "environment": "environment",
    "backend": "backend",
    "log_dir": "log_dir",
    "adjustment_interval": "throughput_adjustment_interval_seconds",
    "max_gpu_budget": "max_gpu_budget",
    "min_endpoint": "min_endpoint",
    "prefill_engine_num_gpu": "prefill_engine_num_gpu",
    "decode_engine_num_gpu": "decode_engine_num_gpu",
    "profile_results_dir": "profile_results_dir",
    "ttft": "ttft_ms",
    "itl": "itl_ms",
    "load_predictor": "load_predictor",
    "load_predictor_log1p": "load_predictor_log1p",
    "prophet_window_size": "prophet_window_size",
    "load_predictor_warmup_trace": "load_predictor_warmup_trace",
    "kalman_q_level": "kalman_q_level",
    "kalman_q_trend": "kalman_q_trend",
    "kalman_r": "kalman_r",
    "kalman_min_points": "kalman_min_points",
    "metric_pulling_prometheus_endpoint": "metric_pulling_prometheus_endpoint",
    "metric_reporting_prometheus_port": "metric_reporting_prometheus_port",
    "model_name": "model_name",
}
FLAG_OF_PLANNER_KEY = {key: flag for flag, key in PLANNER_KEY_OF_FLAG.items()}
PLANNER_CHOICES_1X = {"load_predictor": ("constant", "arima", "prophet", "kalman")}
# Dynamo 0.8's planner: `LOAD_PREDICTORS` of `utils/load_predictor.py` (its argparse takes any string for
# `--load-predictor`, so another value passes the flag check and fails when the planner starts).
DYNAMO_08_LOAD_PREDICTORS = ("constant", "arima", "prophet")

_KIND_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
                                            "object": (dict,)}
_KIND_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
               "object": "a mapping"}


@cache
def planner_config_fields() -> dict[str, dict[str, Any]]:
    """Field name -> {kind, nullable, choices?, aliases?} of Dynamo 1.6.1's `PlannerConfig`."""
    return json.loads(PLANNER_CONFIG_FIELDS_FILE.read_text())


@cache
def _aliases() -> dict[str, str]:
    return {alias: name for name, field in planner_config_fields().items() for alias in field.get("aliases", [])}


def canonical_key(key: str) -> str | None:
    """The `PlannerConfig` field a key sets (through its aliases), or None if it sets none."""
    if key in planner_config_fields():
        return key
    return _aliases().get(key)


def key_error(key: str) -> str | None:
    """Why `key` is no `PlannerConfig` key (with a "did you mean"), or None if it is one."""
    if canonical_key(key) is not None:
        return None
    names = list(planner_config_fields()) + list(_aliases())
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "keys are Dynamo 1.x PlannerConfig fields (snake_case)"
    return f"unknown planner setting '{key}'; {hint}"


def value_error(key: str, value: Any) -> str | None:
    """Why `value` does not fit the `PlannerConfig` field `key` (type, choices), or None if it does."""
    name = canonical_key(key)
    if name is None:
        return None
    field = planner_config_fields()[name]
    kind = field["kind"]
    if value is None:
        return None if field.get("nullable") else f"{key} needs {_KIND_WORDS[kind]}, not null"
    if (isinstance(value, bool) and kind != "bool") or not isinstance(value, _KIND_TYPES[kind]):
        return f"{key} needs {_KIND_WORDS[kind]}, not {value!r}"
    if kind == "float" and not math.isfinite(value):
        return f"{key} needs a finite number, not {value!r}"
    choices = field.get("choices")
    if choices and value not in choices:
        return f"{key} must be one of {', '.join(choices)}, not {value!r}"
    return None


def refused_by_dynamo_planner(dest: str, value: Any, *, dynamo_1x: bool) -> str | None:
    """Why Dynamo's own planner (0.8's argparse and predictors, or 1.6.1's `PlannerConfig`) would refuse this
    planner setting (by its flag `dest`), or None. This project's planner takes more (`auto`, `burst` predictors)."""
    if dynamo_1x:
        key = PLANNER_KEY_OF_FLAG.get(dest)
        problem = value_error(key, value) if key else None
        return f"Dynamo 1.x's planner refuses it ({problem})" if problem else None
    if dest == "load_predictor" and value not in DYNAMO_08_LOAD_PREDICTORS:
        return (f"Dynamo 0.8's planner has no load predictor {value!r} (it has "
                f"{', '.join(DYNAMO_08_LOAD_PREDICTORS)}; it would fail on start)")
    return None
