"""The index of `generated/`: which request folders Argo CD and Flux apply — only folders the reconciler wrote.

Two files, both written only by the reconciler, from one set of `(namespace, name)`:
- `generated/kustomization.yaml`: a kustomization whose `resources` are those folders. Flux's
  kustomize-controller uses it as it is (a folder with a kustomization.yaml is never scanned), so a YAML file
  a person adds anywhere under `generated/` is never applied; `kubectl kustomize generated` builds it.
- `generated/index.yaml`: the same folders as a YAML list, for an Argo CD ApplicationSet's Git files generator
  (one Application per element; `repo-template/apps/argocd`).

A folder is in the index when its request file exists and the folder holds the reconciler's `status.yaml`
(every state: a folder whose request failed keeps its earlier DGD running, and its own kustomization.yaml
lists only manifests). The reconciler updates the index in the commit that adds or removes a folder on the
target branch, and at the end of a pass for folders that arrived another way (a merged pull request) or
must leave it (drift refused by `onDrift: report`, a hand-made folder, a hand edit of the index).
"""

from __future__ import annotations

import re

from gitops_sla import layout
from gitops_sla.git import Snapshot
from gitops_sla.yamlsafe import dump_yaml

INDEX_KUSTOMIZATION = f"{layout.GENERATED_DIR}/kustomization.yaml"
INDEX_FILE = f"{layout.GENERATED_DIR}/index.yaml"
_RESOURCE_LINE = re.compile(rb"^- ([^/\s]+)/([^/\s]+)$", re.M)
_HEADER = ("# Written by gitops-sla: the request folders Argo CD and Flux apply. Edits are replaced by the reconciler;\n"
           "# a folder that is not listed here is never applied.\n")

RequestKey = tuple[str, str]


def read_index(snapshot: Snapshot) -> set[RequestKey]:
    """The folders listed in `generated/kustomization.yaml` (the lines the reconciler writes; nothing else)."""
    data = snapshot.read(INDEX_KUSTOMIZATION) or b""
    return {(m.group(1).decode(), m.group(2).decode()) for m in _RESOURCE_LINE.finditer(data)}


def belongs(snapshot: Snapshot, key: RequestKey, refused: frozenset[RequestKey] = frozenset()) -> bool:
    """Should the index list this folder: a usable name, its request exists, it holds a status.yaml, and it is
    not refused (drift reported, not restored)?"""
    if not layout.usable_key(*key) or key in refused:
        return False
    return (snapshot.blob_id(layout.request_path(*key)) is not None
            and snapshot.blob_id(layout.generated_file(*key, "status.yaml")) is not None)


def index_files(keys: set[RequestKey]) -> dict[str, bytes | None]:
    """Both index files for this set of folders (deterministic: sorted)."""
    ordered = sorted(keys)
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": [f"{ns}/{name}" for ns, name in ordered]}
    entries = [{"namespace": ns, "request": name, "folder": f"{layout.GENERATED_DIR}/{ns}/{name}"}
               for ns, name in ordered]
    return {INDEX_KUSTOMIZATION: (_HEADER + dump_yaml(kustomization)).encode(),
            INDEX_FILE: (_HEADER + (dump_yaml(entries) if entries else "[]\n")).encode()}


def updated(snapshot: Snapshot, add: set[RequestKey] = frozenset(), remove: set[RequestKey] = frozenset()
            ) -> dict[str, bytes | None]:
    """The index files with `add` listed and `remove` not, when that changes them (else {})."""
    current = read_index(snapshot)
    wanted = (current | set(add)) - set(remove)
    files = index_files(wanted)
    if wanted == current and all(snapshot.read(path) == data for path, data in files.items()):
        return {}
    return files
