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

import json
import re

from gitops_sla import layout
from gitops_sla.git import Snapshot

INDEX_KUSTOMIZATION = f"{layout.GENERATED_DIR}/kustomization.yaml"
INDEX_FILE = f"{layout.GENERATED_DIR}/index.yaml"
_RESOURCE_LINE = re.compile(rb'^- ("(?:[^"\\\n]|\\.)*")$', re.M)
_HEADER = ("# Written by gitops-sla: the request folders Argo CD and Flux apply. Edits are replaced by the reconciler;\n"
           "# a folder that is not listed here is never applied.\n")

RequestKey = tuple[str, str]


def read_index(snapshot: Snapshot) -> set[RequestKey]:
    """The folders listed in `generated/kustomization.yaml` (the lines the reconciler writes; nothing else)."""
    found: set[RequestKey] = set()
    for match in _RESOURCE_LINE.finditer(snapshot.read(INDEX_KUSTOMIZATION) or b""):
        quoted = match.group(1)
        text = json.loads(quoted) if b"\\" in quoted else quoted[1:-1].decode()
        namespace, _, name = text.partition("/")
        if namespace and name:
            found.add((namespace, name))
    return found


def belongs(snapshot: Snapshot, key: RequestKey, refused: frozenset[RequestKey] = frozenset()) -> bool:
    """Should the index list this folder: a usable name, its request exists, it holds a status.yaml, and it is
    not refused (drift reported, not restored)?"""
    if not layout.usable_key(*key) or key in refused:
        return False
    return (snapshot.blob_id(layout.request_path(*key)) is not None
            and snapshot.blob_id(layout.generated_file(*key, "status.yaml")) is not None)


def index_files(keys: set[RequestKey]) -> dict[str, bytes | None]:
    """Both index files for this set of folders (deterministic: sorted). Written line by line, every string a
    JSON string (valid YAML, whatever the name holds): 10,000 folders take milliseconds."""
    ordered = sorted(keys)
    resources = "".join(f"- {_quoted(f'{ns}/{name}')}\n" for ns, name in ordered)
    kustomization = ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                     + (f"resources:\n{resources}" if ordered else "resources: []\n"))
    entries = "".join(f'- {{"namespace": {_quoted(ns)}, "request": {_quoted(name)}, '
                      f'"folder": {_quoted(f"{layout.GENERATED_DIR}/{ns}/{name}")}}}\n' for ns, name in ordered)
    return {INDEX_KUSTOMIZATION: (_HEADER + kustomization).encode(),
            INDEX_FILE: (_HEADER + (entries or "[]\n")).encode()}


_PLAIN = re.compile(r"[A-Za-z0-9._/-]*")


def _quoted(text: str) -> str:
    """A JSON string (so valid YAML), without calling the encoder for the usual DNS-style names."""
    return f'"{text}"' if _PLAIN.fullmatch(text) else json.dumps(text)


def lists(snapshot: Snapshot, key: RequestKey) -> bool:
    """Whether the index lists this folder (a substring search: no parsing)."""
    return f"\n- {_quoted(f'{key[0]}/{key[1]}')}\n".encode() in (snapshot.read(INDEX_KUSTOMIZATION) or b"")


def updated(snapshot: Snapshot, add: set[RequestKey] = frozenset(), remove: set[RequestKey] = frozenset(),
            verify: bool = False) -> dict[str, bytes | None]:
    """The index files with `add` listed and `remove` not, when that changes them (else {}). Without `verify`,
    an index that already says so is taken as it is (milliseconds for 10,000 folders); with it, both files are
    compared byte for byte with what the reconciler would write (a hand edit of the index is undone)."""
    if not verify and snapshot.blob_id(INDEX_FILE) is not None and \
            all(lists(snapshot, key) for key in add) and not any(lists(snapshot, key) for key in remove):
        return {}
    wanted = (read_index(snapshot) | set(add)) - set(remove)
    files = index_files(wanted)
    if all(snapshot.read(path) == data for path, data in files.items()):
        return {}
    return files
