"""Which requests exist, what their inputs are, and whether their output is up to date — from Git objects.

A request's identity is its spec hash: sha256 over its path, the blob ids (Git's content hashes) of the
request file and of the base config it references, the profiler version and the digest of the repository's
planner settings (computed once per pass). Reading blob ids costs nothing (they sit
in the tree entries), so checking 10,000 requests needs no YAML parsing: the recorded hash in
`status.yaml` is compared with the hash computed from the current tree. A request with a `configMapRef`
matches when the hash computed with one of the base files of its namespace equals the recorded one; an
unchanged request blob means an unchanged `configMapRef`, so this is exact.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from gitops_sla import layout
from gitops_sla.git.snapshot import Snapshot
from gitops_sla.models import RepoConfig
from gitops_sla.validation import validate_repo_config

STATUS_FILE = "status.yaml"
_SPEC_HASH_LINE = re.compile(rb"^specHash: ['\"]?([0-9a-z:]+)['\"]?$", re.M)
_STATE_LINE = re.compile(rb"^  state: ['\"]?(\w*)['\"]?$", re.M)
# States in which a request's output is final for its spec hash; others need the reconciler again.
SETTLED_STATES = frozenset({"Ready", "Deploying", "Failed", "DeploymentDeleted"})
# A proposal awaiting review (pull-request branch) is `Pending`; on the target branch, that means it was merged.
PROPOSED_STATES = SETTLED_STATES | {"Pending"}

RequestKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class Generator:
    """What besides a request's files decides its output, the same for every request of a pass: the
    profiler version, the digest of the repository's planner settings (`RepoPlannerKeys.digest`), its
    default AI Configurator target and selection settings (`aiConfigurator`, `selection` in gitops-sla.yaml,
    used by requests that name none) and whether online requests may fall back to that estimate
    (`onlineProfiling.fallback`)."""

    profiler_version: str
    planner_digest: str
    aic_defaults: str = ""
    online_fallback: str = "fail"

    @classmethod
    def for_repo(cls, profiler_version: str, config: RepoConfig, planner_digest: str) -> "Generator":
        """The generator of a pass over a repository with this config."""
        defaults, selection = config.ai_configurator, config.selection.digest()
        return cls(profiler_version, planner_digest, f"{defaults.system} {defaults.backend_version or '-'}"
                   + (f" selection {selection}" if selection else ""), config.online_profiling.fallback)


def spec_hash(key: RequestKey, request_blob: str, base: tuple[str, str] | None, generator: Generator) -> str:
    """`sha256:<hex>` of the inputs: request path and blob id, base config (path, blob id) if any, profiler
    version, planner settings digest, the repository's default AI Configurator target, and its
    `onlineProfiling.fallback` when not the default."""
    text = f"gitops-sla-inputs/v2\nrequest {key[0]}/{key[1]} {request_blob}\n"
    if base is not None:
        text += f"base {base[0]} {base[1]}\n"
    text += f"profiler {generator.profiler_version}\nplanner {generator.planner_digest}\n"
    text += f"aic-defaults {generator.aic_defaults}\n"
    if generator.online_fallback != "fail":  # the default adds no line: hashes from before the setting stay valid
        text += f"online-fallback {generator.online_fallback}\n"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RecordedStatus:
    """The two fields of a `status.yaml` the fast path needs, read without a YAML parser (we write it)."""

    spec_hash: str | None
    state: str | None


def read_recorded(snapshot: Snapshot, key: RequestKey) -> tuple[RecordedStatus, bytes] | None:
    data = snapshot.read(status_path(key))
    if data is None:
        return None
    hash_match = _SPEC_HASH_LINE.search(data)
    state_match = _STATE_LINE.search(data)
    return RecordedStatus(hash_match.group(1).decode() if hash_match else None,
                          state_match.group(1).decode() if state_match else None), data


_DEPLOYMENT_BLOCK = re.compile(rb"^  deployment:\n((?:    .*\n?)+)", re.M)
_FIELD = re.compile(rb"^    (name|namespace): ['\"]?([^'\"\n]+)['\"]?$", re.M)


def deployment_of(status: bytes) -> tuple[str, str] | None:
    """(namespace, name) of the generated DGD a `status.yaml` records (`status.deployment`), read without a YAML
    parser (we write it); None when it records none."""
    block = _DEPLOYMENT_BLOCK.search(status)
    if block is None:
        return None
    fields = {m.group(1): m.group(2).decode() for m in _FIELD.finditer(block.group(1))}
    if b"name" not in fields or b"namespace" not in fields:
        return None
    return fields[b"namespace"], fields[b"name"]


def status_path(key: RequestKey) -> str:
    return layout.generated_file(key[0], key[1], STATUS_FILE)


def discover_requests(snapshot: Snapshot) -> dict[RequestKey, str]:
    """(namespace, name) -> request blob id for every `requests/<namespace>/<name>.yaml`."""
    found: dict[RequestKey, str] = {}
    for namespace, is_dir in snapshot.list_dir(layout.REQUESTS_DIR):
        if not is_dir:
            continue
        folder = snapshot.repo.get(snapshot.tree[f"{layout.REQUESTS_DIR}/{namespace}"].id)
        for entry in folder:
            if entry.type_str == "blob":
                parsed = layout.parse_request_path(f"{layout.REQUESTS_DIR}/{namespace}/{entry.name}")
                if parsed is not None:
                    found[parsed] = str(entry.id)
    return found


def discover_generated(snapshot: Snapshot) -> set[RequestKey]:
    """(namespace, name) of every `generated/<namespace>/<name>/` folder that holds a `status.yaml`, and of
    every folder whose name is not usable (a backslash, a control character: see `layout.usable_key`), for the
    caller to report."""
    found: set[RequestKey] = set()
    for namespace, is_dir in snapshot.list_dir(layout.GENERATED_DIR):
        if is_dir:
            for name, sub_is_dir in snapshot.list_dir(f"{layout.GENERATED_DIR}/{namespace}"):
                if not sub_is_dir:
                    continue
                if not layout.usable_key(namespace, name) or snapshot.blob_id(status_path((namespace, name))):
                    found.add((namespace, name))
    return found


def namespace_bases(snapshot: Snapshot, namespace: str) -> list[tuple[str, str]]:
    """(path, blob id) of every base config under `bases/<namespace>/`."""
    return list(snapshot.walk_files(f"{layout.BASES_DIR}/{namespace}"))


def is_up_to_date(
    recorded: RecordedStatus | None,
    key: RequestKey,
    request_blob: str,
    bases: list[tuple[str, str]],
    generator: Generator,
    states: frozenset[str] = SETTLED_STATES,
) -> bool:
    """True when the recorded status is in one of `states` (settled) and its spec hash equals the hash of the
    current inputs."""
    if recorded is None or recorded.spec_hash is None or recorded.state not in states:
        return False
    if recorded.spec_hash == spec_hash(key, request_blob, None, generator):
        return True
    return any(recorded.spec_hash == spec_hash(key, request_blob, base, generator) for base in bases)


def load_repo_config(snapshot: Snapshot) -> tuple[RepoConfig | None, str | None]:
    """`gitops-sla.yaml` of the snapshot (defaults when absent), or None and why it is invalid."""
    data = snapshot.read(layout.REPO_CONFIG_FILE)
    if data is None:
        return RepoConfig(), None
    checked = validate_repo_config(data, file=layout.REPO_CONFIG_FILE)
    if checked.config is None:
        problems = "; ".join(str(i) for i in checked.issues if i.severity == "error")
        return None, f"{layout.REPO_CONFIG_FILE} is invalid, no request is processed until it is fixed: {problems}"
    return checked.config, None


def changed_keys(snapshot_old: Snapshot, snapshot_new: Snapshot) -> tuple[set[RequestKey], set[str], bool]:
    """What changed between two snapshots: request keys touched under `requests/` or `generated/`,
    namespaces whose `bases/` changed, and whether the repo config changed."""
    keys: set[RequestKey] = set()
    namespaces: set[str] = set()
    config_changed = snapshot_old.blob_id(layout.REPO_CONFIG_FILE) != snapshot_new.blob_id(layout.REPO_CONFIG_FILE)
    for top in (layout.REQUESTS_DIR, layout.GENERATED_DIR, layout.BASES_DIR):
        if snapshot_old.tree_id_of(top) == snapshot_new.tree_id_of(top):
            continue
        old_ns = dict(snapshot_old.list_dir(top))
        new_ns = dict(snapshot_new.list_dir(top))
        for namespace in set(old_ns) | set(new_ns):
            path = f"{top}/{namespace}"
            if snapshot_old.tree_id_of(path) == snapshot_new.tree_id_of(path) and \
                    snapshot_old.blob_id(path) == snapshot_new.blob_id(path):
                continue
            if top == layout.BASES_DIR:
                namespaces.add(namespace)
                continue
            old_entries = {n: snapshot_old.tree[path][n].id for n, _ in snapshot_old.list_dir(path)}
            new_entries = {n: snapshot_new.tree[path][n].id for n, _ in snapshot_new.list_dir(path)}
            for entry in set(old_entries) | set(new_entries):
                if old_entries.get(entry) == new_entries.get(entry):
                    continue
                name = entry[: -len(layout.REQUEST_SUFFIX)] if top == layout.REQUESTS_DIR else entry
                if top == layout.REQUESTS_DIR and not entry.endswith(layout.REQUEST_SUFFIX):
                    continue
                keys.add((namespace, name))
    return keys, namespaces, config_changed
