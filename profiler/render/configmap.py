"""The `planner-profile-data-<hash>` ConfigMap the Planner mounts (Dynamo's keys, a per-request name).

Dynamo names it `planner-profile-data`, so two requests in one namespace collide. Here the name ends in a
hash of the request's identity and the data: unique per request, and new data gives a new name, so the
Planner pods roll when the profile changes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from profiler.interpolation import DECODE_FILE, PREFILL_FILE

CONFIGMAP_PREFIX = "planner-profile-data"
HASH_LENGTH = 10


def configmap_name(request_namespace: str, request_name: str, prefill_json: str, decode_json: str) -> str:
    digest = hashlib.sha256(
        "\0".join((request_namespace, request_name, prefill_json, decode_json)).encode()
    ).hexdigest()
    return f"{CONFIGMAP_PREFIX}-{digest[:HASH_LENGTH]}"


def profile_configmap(
    name: str, namespace: str, labels: dict[str, str], prefill_json: str, decode_json: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {PREFILL_FILE: prefill_json, DECODE_FILE: decode_json},
    }
