"""Hand edits of `generated/`: what the reconciler wrote is recorded in `status.yaml`, checked every pass.

Every status the reconciler writes ends with two keys (appended to its YAML, see `stamp`):
- `outputFiles`: the Git blob id of every file of the folder except `status.yaml` and the planner's
  `replicas.yaml` (which must stay a patch of worker replica counts only: `replicas_patch_is_counts_only`);
- `outputDigest`: sha256 of the status file without that line (so `outputFiles` and the state are covered).

`drift_of` compares a folder with its record from tree entries alone (no file is read but `status.yaml` and
`replicas.yaml`). A status without `outputDigest` (written before this existed) is not checked; its next
write records one. This catches edits by hand, not a committer who recomputes the digest: who may commit to
`generated/` is for branch protection and CODEOWNERS to decide. `restore_files` rebuilds a folder from its
record: the blobs it names are in the repository's history.
"""

from __future__ import annotations

import hashlib
import re
from typing import Mapping

import pygit2
import yaml

from gitops_sla import layout
from gitops_sla.git import Snapshot
from gitops_sla.reconcile.inputs import STATUS_FILE, RequestKey, deployment_of
from gitops_sla.replicas_patch import REPLICAS_FILE, DgdError, initial_replicas_patch, planner_mode_of
from gitops_sla.yamlsafe import dump_yaml

UNRECORDED = frozenset({STATUS_FILE, REPLICAS_FILE})
HISTORY_DEPTH = 500  # commits searched for the last status the reconciler wrote, when status.yaml was edited
_DIGEST_LINE = re.compile(rb"^outputDigest: (sha256:[0-9a-f]{64})\n", re.M)
_FILES_BLOCK = re.compile(rb"^outputFiles:(?: \{\})?\n((?:  .*\n)*)", re.M)
_FILE_LINE = re.compile(rb"^  ['\"]?([^'\":]+)['\"]?: ['\"]?([0-9a-f]{40})['\"]?$", re.M)


def folder_files(snapshot: Snapshot, key: RequestKey) -> dict[str, str]:
    """Path relative to the folder -> blob id, for every file of `generated/<ns>/<name>/`."""
    folder = layout.generated_dir(*key)
    return {path[len(folder) + 1:]: blob for path, blob in snapshot.walk_files(folder)}


def _unstamped(status: bytes) -> bytes:
    return _DIGEST_LINE.sub(b"", _FILES_BLOCK.sub(b"", status))


def stamp(status: bytes, recorded: Mapping[str, str]) -> bytes:
    """`status` (any earlier record removed) with `outputFiles: recorded` and its `outputDigest` appended."""
    body = _unstamped(status) + dump_yaml({"outputFiles": dict(sorted(recorded.items()))}).encode()
    return body + b"outputDigest: sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n"


def stamp_changes(head: Snapshot, key: RequestKey, changes: dict[str, bytes | None]) -> dict[str, bytes | None]:
    """`changes` with the folder's status stamped with the files the folder will hold after them."""
    folder = layout.generated_dir(*key)
    status_path = f"{folder}/{STATUS_FILE}"
    status = changes.get(status_path)
    if status is None:
        return changes
    files = {} if folder in changes and changes[folder] is None else folder_files(head, key)
    for path, data in changes.items():
        if path.startswith(folder + "/"):
            relative = path[len(folder) + 1:]
            if data is None:
                files = {name: blob for name, blob in files.items()
                         if name != relative and not name.startswith(relative + "/")}
            else:
                files[relative] = str(pygit2.hash(data))
    recorded = {name: blob for name, blob in files.items() if name not in UNRECORDED}
    return {**changes, status_path: stamp(status, recorded)}


def recorded_files(status: bytes) -> dict[str, str] | None:
    """The `outputFiles` of a status whose digest holds; None when it has none or the digest does not hold."""
    digest = _DIGEST_LINE.search(status)
    if digest is None:
        return None
    body = _DIGEST_LINE.sub(b"", status)
    if "sha256:" + hashlib.sha256(body).hexdigest() != digest.group(1).decode():
        return None
    block = _FILES_BLOCK.search(body)
    if block is None:
        return None
    return {m.group(1).decode(): m.group(2).decode() for m in _FILE_LINE.finditer(block.group(1))}


def replicas_patch_is_counts_only(data: bytes, dgd: tuple[str, str] | None) -> bool:
    """Whether `replicas.yaml` patches nothing but worker replica counts of the folder's DGD (what the planner
    writes), so that a hand edit cannot swap an image or add a container through it."""
    try:
        doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False
    if not isinstance(doc, dict) or set(doc) - {"apiVersion", "kind", "metadata", "spec"}:
        return False
    metadata, spec = doc.get("metadata"), doc.get("spec")
    if doc.get("kind") != "DynamoGraphDeployment" or not isinstance(metadata, dict) or not isinstance(spec, dict):
        return False
    if set(metadata) - {"name", "namespace"} or set(spec) != {"services"} or not isinstance(spec["services"], dict):
        return False
    if dgd is not None and (metadata.get("namespace"), metadata.get("name")) != dgd:
        return False
    return all(isinstance(entry, dict) and set(entry) <= {"replicas"}
               and (entry.get("replicas") is None or (type(entry["replicas"]) is int and entry["replicas"] >= 0))
               for entry in spec["services"].values())


def drift_of(snapshot: Snapshot, key: RequestKey) -> list[str]:
    """What differs in the folder from what the reconciler recorded, e.g. `dgd.yaml changed`, `pod.yaml added`,
    `status.yaml edited`; [] when nothing does, or when the status records nothing to compare (not ours, or
    written before records existed)."""
    status = snapshot.read(layout.generated_file(*key, STATUS_FILE))
    if status is None or _DIGEST_LINE.search(status) is None:
        return []
    found: list[str] = []
    recorded = recorded_files(status)
    if recorded is None:  # compare the files with the last status the reconciler wrote
        found.append(f"{STATUS_FILE} edited")
        written = last_written_status(snapshot.repo, snapshot.commit_id, key) if snapshot.commit_id else None
        recorded = recorded_files(written) if written is not None else None
        if recorded is None:
            return found
        status = written
    actual = {name: blob for name, blob in folder_files(snapshot, key).items() if name not in UNRECORDED}
    found += [f"{name} changed" for name in sorted(set(recorded) & set(actual)) if recorded[name] != actual[name]]
    found += [f"{name} added" for name in sorted(set(actual) - set(recorded))]
    found += [f"{name} removed" for name in sorted(set(recorded) - set(actual))]
    replicas = snapshot.read(layout.generated_file(*key, REPLICAS_FILE))
    if replicas is not None and not replicas_patch_is_counts_only(replicas, deployment_of(status)):
        found.append(f"{REPLICAS_FILE} patches more than worker replica counts")
    return found


def last_written_status(repo: pygit2.Repository, head: str, key: RequestKey) -> bytes | None:
    """The newest `status.yaml` of the folder in the history of `head` whose digest holds (the reconciler's)."""
    path = layout.generated_file(*key, STATUS_FILE)
    walker = repo.walk(head, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.simplify_first_parent()
    for depth, commit in enumerate(walker):
        if depth >= HISTORY_DEPTH:
            return None
        try:
            data = repo.get(commit.tree[path].id).data
        except KeyError:
            continue
        if recorded_files(data) is not None:
            return data
    return None


def restore_files(snapshot: Snapshot, key: RequestKey, status: bytes) -> dict[str, bytes | None] | None:
    """The folder as `status` records it (its files from the repository's objects), keeping a `replicas.yaml`
    that only patches counts; None when a recorded blob is missing."""
    recorded = recorded_files(status)
    if recorded is None:
        return None
    folder = layout.generated_dir(*key)
    files: dict[str, bytes | None] = {folder: None}
    for name, blob in recorded.items():
        obj = snapshot.repo.get(blob)
        if obj is None:
            return None
        files[f"{folder}/{name}"] = obj.data
    replicas = snapshot.read(f"{folder}/{REPLICAS_FILE}")
    if replicas is not None and replicas_patch_is_counts_only(replicas, deployment_of(status)):
        files[f"{folder}/{REPLICAS_FILE}"] = replicas
    elif replicas is not None:  # the kustomization patches with it: the initial patch of the recorded DGD
        files[f"{folder}/{REPLICAS_FILE}"] = _initial_replicas(files)
    return files


def _initial_replicas(files: Mapping[str, bytes | None]) -> bytes | None:
    for path, data in sorted(files.items()):
        if data is None or not path.endswith((".yaml", ".yml")):
            continue
        try:
            doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and doc.get("kind") == "DynamoGraphDeployment":
            try:
                return initial_replicas_patch(doc, planner_mode_of(doc))
            except DgdError:
                return None
    return None
