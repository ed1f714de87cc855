"""`gitops-sla status --repo URL_OR_PATH [-o table|yaml|json]`: the requests of a repo, like `kubectl get dgdr`.

STATE is the lifecycle state in the request's `status.yaml` when it describes the current request (its spec
hash matches), on the target branch or on the request's pull-request branch; a request that changed since
its last output shows `Pending` (the reconciler has not handled it yet). AGE counts from the commit the
output was generated from. With --kubeconfig, LIVE shows each generated DGD's state in the cluster now
(`successful`, `pending`, `failed`, `NotFound`) next to the committed STATE.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from gitops_sla import layout
from gitops_sla.cluster.errors import ClusterConfigError
from gitops_sla.commands.reconcile import add_repo_arguments, open_mirror
from gitops_sla.git import GitSyncError, Mirror, Snapshot
from gitops_sla.models import RepoConfig, RequestStatusFile
from gitops_sla.reconcile.inputs import (
    PROPOSED_STATES,
    Generator,
    discover_generated,
    discover_requests,
    is_up_to_date,
    load_repo_config,
    namespace_bases,
    read_recorded,
    status_path,
)
from gitops_sla.reconcile.output import pr_branch
from gitops_sla.reconcile.planner_settings import RepoPlannerKeys
from gitops_sla.reconcile.readiness import DeploymentReader, DeploymentReadError
from gitops_sla.secrets import redact_url
from gitops_sla.yamlsafe import YamlError, dump_yaml, load_yaml

COLUMNS = ("NAME", "NAMESPACE", "MODEL", "BACKEND", "STATE", "SLA MET", "AGE")


@dataclass(frozen=True)
class RequestRow:
    name: str
    namespace: str
    model: str
    backend: str
    state: str
    sla_met: bool | None
    age_seconds: int | None
    up_to_date: bool
    location: str  # the branch holding the status shown
    spec_hash: str | None
    source_commit: str | None
    status: dict[str, Any] | None


def _age(seconds: int | None) -> str:
    """kubectl's short age: 45s, 12m, 5h, 3d."""
    if seconds is None:
        return "<unknown>"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _request_fields(snapshot: Snapshot, key: tuple[str, str]) -> tuple[str, str]:
    data = snapshot.read(layout.request_path(*key))
    try:
        spec = load_yaml(data or b"", layout.request_path(*key)).data.get("spec") or {}
    except YamlError:
        return "<invalid>", "<invalid>"
    return str(spec.get("model", "")), str(spec.get("backend", ""))


def collect_rows(mirror: Mirror, branch: str, version: str, now: float | None = None) -> list[RequestRow]:
    """One row per request (and per generated folder whose request is gone), sorted by namespace and name."""
    now = time.time() if now is None else now
    snapshot = mirror.snapshot(mirror.head(branch))
    requests = discover_requests(snapshot)
    config = load_repo_config(snapshot)[0] or RepoConfig()
    generator = Generator.for_repo(version, config, RepoPlannerKeys.from_config(config, mirror.url).digest)
    rows = []
    for key in sorted(set(requests) | discover_generated(snapshot)):
        if not layout.usable_key(*key):
            print(f"warning: generated/{key[0]}/{key[1]}/ (or requests/{key[0]}/{key[1]}.yaml) is not usable as a "
                  "request's folder (a backslash or a control character); not listed", file=sys.stderr)
            continue
        blob = requests.get(key)
        bases = namespace_bases(snapshot, key[0])
        where, found = branch, read_recorded(snapshot, key)
        current = blob is not None and is_up_to_date(found[0] if found else None, key, blob, bases, generator)
        if blob is not None and not current and mirror.head(pr_branch(key)):
            side = mirror.snapshot(mirror.head(pr_branch(key)))
            side_found = read_recorded(side, key)
            if is_up_to_date(side_found[0] if side_found else None, key, blob, bases, generator, PROPOSED_STATES):
                where, found, current = pr_branch(key), side_found, True
        status = RequestStatusFile.from_yaml(found[1], status_path(key)) if found else None
        model, backend = _request_fields(snapshot, key) if blob is not None else ("", "")
        if status is not None and blob is None:
            model, backend = status.request.model or "", status.request.backend or ""
        state = status.status.state if status is not None and current else "Pending"
        if blob is None:
            state = "Deleted"
        age = None
        if status is not None and status.source_commit:
            commit = mirror.repo.get(status.source_commit)
            age = int(now - commit.commit_time) if commit is not None else None
        rows.append(RequestRow(
            name=key[1], namespace=key[0], model=model, backend=backend, state=state or "Pending",
            sla_met=status.result.sla_met if status is not None and status.result and current else None,
            age_seconds=age, up_to_date=current, location=where,
            spec_hash=status.spec_hash if status else None, source_commit=status.source_commit if status else None,
            status=status.model_dump(mode="json", by_alias=True, exclude_none=True) if status else None,
        ))
    return rows


def live_states(rows: list[RequestRow], reader: DeploymentReader) -> dict[tuple[str, str], dict[str, Any]]:
    """The live DGD of each row whose committed status names one: found, state, reason, message (or error)."""
    live: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        deployment = ((row.status or {}).get("status") or {}).get("deployment") or {}
        if not deployment.get("name"):
            continue
        try:
            found = reader.read(deployment.get("namespace") or row.namespace, deployment["name"])
        except DeploymentReadError as exc:
            live[row.namespace, row.name] = {"error": str(exc)}
            continue
        live[row.namespace, row.name] = {"name": deployment["name"], "found": found.found, "state": found.state,
                                         "reason": found.reason, "message": found.message}
    return live


def _live_cell(live: dict[str, Any] | None) -> str:
    if live is None:
        return "-"
    if "error" in live:
        return "<error>"
    return (live["state"] or "<none>") if live["found"] else "NotFound"


def format_table(rows: list[RequestRow], live: dict[tuple[str, str], dict[str, Any]] | None = None) -> str:
    """kubectl-style columns; with `live` (--kubeconfig) a LIVE column next to STATE: the DGD's state now."""
    columns = COLUMNS if live is None else (*COLUMNS[:5], "LIVE", *COLUMNS[5:])
    cells = [columns]
    for r in rows:
        row = [r.name, r.namespace, r.model, r.backend, r.state,
               "-" if r.sla_met is None else ("True" if r.sla_met else "False"), _age(r.age_seconds)]
        if live is not None:
            row.insert(5, _live_cell(live.get((r.namespace, r.name))))
        cells.append(tuple(row))
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells) + "\n"


def _as_data(rows: list[RequestRow], live: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    items = []
    for row in rows:
        item = asdict(row)
        items.append({"name": item["name"], "namespace": item["namespace"], "model": item["model"],
                      "backend": item["backend"], "state": item["state"], "slaMet": item["sla_met"],
                      "ageSeconds": item["age_seconds"], "upToDate": item["up_to_date"], "branch": item["location"],
                      "specHash": item["spec_hash"], "sourceCommit": item["source_commit"], "status": item["status"]})
        if live is not None:
            items[-1]["live"] = live.get((row.namespace, row.name))
    return items


def run(args: argparse.Namespace) -> int:
    from profiler.version import PROFILER_VERSION

    try:
        mirror = open_mirror(args)
        mirror.fetch()
    except GitSyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if mirror.head(args.branch) is None:
        print(f"error: branch '{args.branch}' does not exist in {redact_url(args.repo)}", file=sys.stderr)
        return 1
    rows = collect_rows(mirror, args.branch, PROFILER_VERSION)
    live = None
    if args.kubeconfig:
        from gitops_sla.cluster.client import api_client
        from gitops_sla.cluster.readiness import KubeDeploymentReader

        try:
            live = live_states(rows, KubeDeploymentReader(api_client(args.kubeconfig)))
        except ClusterConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.output == "json":
        sys.stdout.write(json.dumps({"items": _as_data(rows, live)}, indent=2) + "\n")
    elif args.output == "yaml":
        sys.stdout.write(dump_yaml({"items": _as_data(rows, live)}))
    else:
        sys.stdout.write(format_table(rows, live) if rows else "No requests found.\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="list requests and their state (like kubectl get dgdr)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_repo_arguments(parser)
    parser.add_argument("-o", "--output", choices=("table", "yaml", "json"), default="table")
    parser.add_argument("--kubeconfig", help="also read each generated DGD from this cluster: LIVE column (its state "
                                             "now) next to the committed STATE")
    parser.set_defaults(handler=run)
