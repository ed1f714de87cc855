"""`generated/<namespace>/<name>/replicas.yaml`: the planner's kustomize patch over the reconciler's DGD.

The reconciler writes the folder and lists this file under `patches` in `kustomization.yaml`; it writes an
initial patch only when there is none (or when the existing one no longer fits the DGD or the planner mode),
and the planner owns the content from then on. Two forms:

- explicit counts, `spec.services.<svc>.replicas: N` for the prefill and decode services (git and advisory
  modes): Git is the source of truth and Argo CD/Flux apply the planner's commits (nothing to ignore);
- the *release* form, `replicas: null` for those services (patch mode), which removes the fields from what
  Argo CD or Flux apply, so they never reset what the planner patched in the cluster. (Flux has no
  ignoreDifferences: server-side apply leaves a field alone only when the manifests do not set it. Argo CD
  additionally gets the `ignoreDifferences` rule of `repo-template/apps/argocd-planner-patch-mode/`.)

Pure functions over parsed DGDs and bytes; the output is deterministic (sorted keys, block style, no
timestamps). The planner (`planner/`) imports this module; it imports nothing of the planner.
"""

from __future__ import annotations

import io
from typing import Any, Literal, Mapping

from ruamel.yaml import YAML

REPLICAS_FILE = "replicas.yaml"
ROLES = ("prefill", "decode")
# Service keys Dynamo's base configs use when `subComponentType` is absent.
DEFAULT_SERVICE_NAMES = {
    "prefill": ("VllmPrefillWorker", "TRTLLMPrefillWorker", "prefill", "PrefillWorker"),
    "decode": ("VllmDecodeWorker", "TRTLLMDecodeWorker", "decode", "DecodeWorker"),
}
# Dynamo's own planner modules: they scale the DGD in the cluster, as this project's patch mode does.
DYNAMO_PLANNER_MODULES = ("planner_sla", "dynamo.planner")
PlannerMode = Literal["git", "patch", "advisory"]
PatchForm = Literal["counts", "release"]

HEADER = ("# Owned by the gitops-sla planner: a kustomize patch over this folder's DGD, listed under `patches` in\n"
          "# kustomization.yaml. Do not edit by hand; in git mode the planner's next commit replaces it.\n")


class DgdError(ValueError):
    """A DGD whose prefill and decode services cannot be found; the message says which field and what to do."""


def resolve_services(dgd: Mapping[str, Any], prefill: str | None = None, decode: str | None = None
                     ) -> dict[str, str]:
    """Service keys of the prefill and decode workers: the given keys (the planner's `--prefill-service` and
    `--decode-service`), else `subComponentType`, else Dynamo's usual names."""
    services = (dgd.get("spec") or {}).get("services") or {}
    name = (dgd.get("metadata") or {}).get("name", "<unnamed>")
    given = {"prefill": prefill, "decode": decode}
    result: dict[str, str] = {}
    for role in ROLES:
        if given[role]:
            if given[role] not in services:
                raise DgdError(f"DGD {name}: --{role}-service={given[role]} is not in spec.services "
                               f"({', '.join(sorted(services))})")
            result[role] = given[role]
            continue
        typed = [key for key, svc in services.items() if (svc or {}).get("subComponentType") == role]
        named = [key for key in DEFAULT_SERVICE_NAMES[role] if key in services]
        found = typed or named
        if not found:
            raise DgdError(f"DGD {name}: no {role} service in spec.services (none has subComponentType: {role}); "
                           f"set --{role}-service")
        result[role] = found[0]
    return result


def role_replicas(dgd: Mapping[str, Any], services: Mapping[str, str]) -> dict[str, int]:
    """`spec.services.<svc>.replicas` per role (a missing or null field means 1, the CRD default)."""
    spec_services = dgd["spec"]["services"]
    counts: dict[str, int] = {}
    for role in ROLES:
        value = (spec_services[services[role]] or {}).get("replicas", 1)
        counts[role] = int(value) if value is not None else 1
    return counts


def patch_target(dgd: Mapping[str, Any]) -> dict[str, str]:
    """The DGD's `name` and (when set) `namespace`: what kustomize matches a patch by."""
    metadata = dgd.get("metadata") or {}
    target = {"name": metadata.get("name", "")}
    if metadata.get("namespace"):
        target["namespace"] = metadata["namespace"]
    return target


def render_replicas_patch(dgd: Mapping[str, Any], services: Mapping[str, str], replicas: Mapping[str, int] | None
                          ) -> bytes:
    """The patch file over `dgd` (matched by its name and namespace): explicit counts per role
    (`{"prefill": 2, "decode": 3}`), or (None) the release form."""
    doc = {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "DynamoGraphDeployment",
        "metadata": patch_target(dgd),
        "spec": {"services": {services[role]: {"replicas": None if replicas is None else replicas[role]}
                              for role in ROLES}},
    }
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    return (HEADER + buffer.getvalue()).encode()


def patch_form(mode: str) -> PatchForm:
    """The form of `replicas.yaml` a planner mode needs: release in patch mode, explicit counts otherwise."""
    return "release" if mode == "patch" else "counts"


def initial_replicas_patch(dgd: Mapping[str, Any], planner_mode: str) -> bytes:
    """What the reconciler writes when there is no fitting `replicas.yaml`: the release form in patch mode,
    else the DGD's own counts (a no-op patch that the planner updates in git mode; in advisory mode nobody
    scales and Git keeps them)."""
    services = resolve_services(dgd)
    if patch_form(planner_mode) == "release":
        return render_replicas_patch(dgd, services, None)
    return render_replicas_patch(dgd, services, role_replicas(dgd, services))


def patch_fits(data: bytes, dgd: Mapping[str, Any], planner_mode: str) -> bool:
    """Whether an existing `replicas.yaml` still fits the DGD and the mode: it targets the DGD (name and
    namespace, nothing else in `metadata`), patches exactly its prefill and decode services, and has the
    mode's form (all counts, or all null). A patch that does not fit (unreadable, the DGD renamed, a backend
    whose services have other keys, git <-> patch mode) would add bogus services or fight the planner, so the
    reconciler replaces it with the initial one."""
    try:
        docs = [doc for doc in YAML(typ="safe", pure=True).load_all(data.decode()) if doc is not None]
    except Exception:  # noqa: BLE001 - any unreadable file does not fit
        return False
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return False
    doc = docs[0]
    services = resolve_services(dgd)
    spec = doc.get("spec")
    patched = spec.get("services") if isinstance(spec, dict) else None
    if (doc.get("kind") != "DynamoGraphDeployment" or doc.get("metadata") != patch_target(dgd)
            or not isinstance(patched, dict) or set(patched) != {services[role] for role in ROLES}):
        return False
    entries = [patched[services[role]] for role in ROLES]
    values = [entry.get("replicas", "absent") if isinstance(entry, dict) else "absent" for entry in entries]
    if patch_form(planner_mode) == "release":
        return all(value is None for value in values)
    return all(isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in values)


def planner_mode_of(dgd: Mapping[str, Any]) -> PlannerMode:
    """How the DGD's Planner service applies its decisions, read from its command and args: Dynamo's own
    planner scales in the cluster (`patch`); this project's planner uses `--mode` (`disagg` is read as
    `patch`), and `--no-operation` or `--environment=virtual` mean `advisory`. No Planner service: `advisory`."""
    for service in ((dgd.get("spec") or {}).get("services") or {}).values():
        if (service or {}).get("componentType") != "planner":
            continue
        container = ((service.get("extraPodSpec") or {}).get("mainContainer")) or {}
        command = [str(word) for word in container.get("command") or []]
        args = [str(word) for word in container.get("args") or []]
        words = command + args
        if any(module in words for module in DYNAMO_PLANNER_MODULES):
            return "patch"
        flags = _flag_values(args)
        if "no-operation" in flags or flags.get("environment") == "virtual":
            return "advisory"
        mode = flags.get("mode", "advisory")
        if mode == "disagg":
            return "patch"
        return mode if mode in ("git", "patch") else "advisory"
    return "advisory"


def _flag_values(args: list[str]) -> dict[str, str | None]:
    """`--name=value` and `--name value` arguments as a dict (bare flags map to None)."""
    values: dict[str, str | None] = {}
    for index, arg in enumerate(args):
        if not arg.startswith("--"):
            continue
        name, sep, value = arg[2:].partition("=")
        if sep:
            values[name] = value
        elif index + 1 < len(args) and not args[index + 1].startswith("--"):
            values[name] = args[index + 1]
        else:
            values[name] = None
    return values
