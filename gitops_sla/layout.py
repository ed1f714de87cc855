"""The GitOps repository layout as pure functions (POSIX paths relative to the repository root).

```
gitops-sla.yaml                          repo config (RepoConfig)
requests/<namespace>/<name>.yaml         DGDRs: input, written by people
bases/<namespace>/<configmap>/<key>      base DGD configs: the Git form of profilingConfig.configMapRef
generated/<namespace>/<name>/            output of one request, written only by the reconciler
apps/                                    Argo CD ApplicationSet and Flux Kustomization over generated/*/*
```

`configMapRef{name, key}` of a request in namespace `ns` resolves to `bases/<ns>/<name>/<key>`: a ConfigMap is
namespaced in Kubernetes (the operator reads it from the DGDR's namespace), so the Git form keeps the namespace
folder, one folder per ConfigMap and one file per key. Namespace folders also make ownership rules (CODEOWNERS,
tenancy) per team possible.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

REPO_CONFIG_FILE = "gitops-sla.yaml"
REQUESTS_DIR = "requests"
BASES_DIR = "bases"
GENERATED_DIR = "generated"
APPS_DIR = "apps"
REQUEST_SUFFIX = ".yaml"
DEFAULT_CONFIG_MAP_KEY = "disagg.yaml"


_UNUSABLE = re.compile(r"[/\\\x00-\x1f\x7f]")


def usable_segment(value: str) -> bool:
    """True for a single, non-empty path segment without separators (`/`, `\\`), control characters (a newline
    would reach commit messages) or `.`/`..`: what a namespace or request name must be for the reconciler."""
    return bool(value) and value not in {".", ".."} and not _UNUSABLE.search(value)


def usable_key(namespace: str, name: str) -> bool:
    """True when `generated/<namespace>/<name>/` and `requests/<namespace>/<name>.yaml` are usable paths."""
    return usable_segment(namespace) and usable_segment(name)


def _checked_segment(value: str, what: str) -> str:
    """A single, non-empty path segment; refuses separators and `.`/`..` so no path escapes its folder."""
    if not usable_segment(value):
        raise ValueError(f"{what} {value!r} is not a single path segment")
    return value


def request_path(namespace: str, name: str) -> str:
    """`requests/<namespace>/<name>.yaml`."""
    ns = _checked_segment(namespace, "namespace")
    nm = _checked_segment(name, "name")
    return f"{REQUESTS_DIR}/{ns}/{nm}{REQUEST_SUFFIX}"


def _parts(path: str) -> list[str]:
    """The segments of `path`, backslashes as separators, as `PurePosixPath(path).parts` gives them (empty and `.`
    segments dropped, a leading `/` kept as a part; `//` too is one `/` here) without building a path object:
    this runs for every request of every pass."""
    normal = path.replace("\\", "/")
    parts = [segment for segment in normal.split("/") if segment not in ("", ".")]
    return ["/", *parts] if normal.startswith("/") else parts


def parse_request_path(path: str) -> tuple[str, str] | None:
    """`(namespace, name)` for `requests/<namespace>/<name>.yaml`, else None (also for `.yml` or deeper paths)."""
    parts = _parts(path)
    if len(parts) != 3 or parts[0] != REQUESTS_DIR or not parts[2].endswith(REQUEST_SUFFIX):
        return None
    namespace, name = parts[1], parts[2][: -len(REQUEST_SUFFIX)]
    if not namespace or not name or namespace.startswith(".") or name.startswith("."):
        return None
    return namespace, name


def looks_like_request(path: str) -> bool:
    """True for any YAML file under `requests/` (including misplaced ones the validator should report)."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return len(parts) >= 2 and parts[0] == REQUESTS_DIR and parts[-1].endswith((".yaml", ".yml"))


def generated_dir(namespace: str, name: str) -> str:
    """`generated/<namespace>/<name>`: everything the reconciler writes for one request."""
    ns = _checked_segment(namespace, "namespace")
    nm = _checked_segment(name, "name")
    return f"{GENERATED_DIR}/{ns}/{nm}"


def generated_file(namespace: str, name: str, filename: str) -> str:
    """`generated/<namespace>/<name>/<filename>`."""
    return f"{generated_dir(namespace, name)}/{_checked_segment(filename, 'file name')}"


def parse_generated_path(path: str) -> tuple[str, str] | None:
    """`(namespace, name)` for any path inside `generated/<namespace>/<name>/`, else None."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if len(parts) < 3 or parts[0] != GENERATED_DIR:
        return None
    return parts[1], parts[2]


def base_config_path(namespace: str, config_map_name: str, key: str = DEFAULT_CONFIG_MAP_KEY) -> str:
    """`bases/<namespace>/<config_map_name>/<key>`: the Git form of `configMapRef{name, key}`."""
    ns = _checked_segment(namespace, "namespace")
    nm = _checked_segment(config_map_name, "ConfigMap name")
    return f"{BASES_DIR}/{ns}/{nm}/{_checked_segment(key or DEFAULT_CONFIG_MAP_KEY, 'ConfigMap key')}"


def parse_base_config_path(path: str) -> tuple[str, str, str] | None:
    """`(namespace, config_map_name, key)` for `bases/<namespace>/<name>/<key>`, else None."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if len(parts) != 4 or parts[0] != BASES_DIR:
        return None
    return parts[1], parts[2], parts[3]
