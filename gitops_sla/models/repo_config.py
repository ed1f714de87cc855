"""The repo config file `gitops-sla.yaml` at the root of a GitOps repository.

```yaml
targetBranch: main              # branch the reconciler reads requests from and commits output to
defaultMode: pull-request       # pull-request | commit: delivery of a request that does not set autoApply
onUnattainableSla: pull-request # pull-request | commit | fail: when no configuration meets the SLA (even with
                                #   autoApply: true, the default proposes it for review)
onDrift: restore                # restore | report: a hand edit of generated/<ns>/<name>/ is undone, or reported
                                #   in its status.yaml and the folder left out of generated/'s index (not applied)
aiConfigurator:
  system: h200_sxm              # AI Configurator system for requests that name none
selection:                      # how engines are picked, for requests whose profile config sets none
  rule: fine                    # fine (fine concurrency search + safety margins) | dynamo (Dynamo's rule)
  ttftMargin: 0.10              # estimate x (1 + margin) must meet the target (AI Configurator's calibration)
  itlMargin: 0.08
tenancy:                        # which request paths may target which namespaces ({namespace}: the folder)
  - paths: ["requests/*/*.yaml"]
    namespaces: ["{namespace}"]
protectedNamespaces: ["kube-*", "flux-system", "argocd", "gitops-sla-system"]  # the default: never targeted
dynamo:
  version: "1.6.1"              # the cluster's Dynamo: 0.8.x -> v1alpha1 DGDs, 1.x -> v1beta1 DGDs
                                #   default: the release of each request's API version (v1alpha1 0.8.1, v1beta1 1.6.1)
planner:                        # default (no image): Dynamo's own planner, with the profile data
  image: ghcr.io/my-org/gitops-sla:0.1.0  # run this project's planner from this image instead; then:
  mode: git                     # git | patch | advisory  (--mode)
  commitPeriodSeconds: 600      # git mode: at most one replica commit per period (--git-commit-period)
  gitRepo: https://github.com/my-org/my-gitops-repo.git  # git mode: where planner pods push (--git-repo);
                                #   default: the reconciler's --repo URL (a local path is left out, warned)
  pullRequest: false            # git mode: propose replica changes as pull requests (--git-pull-request)
onlineProfiling:                # requests with sweep.useAiConfigurator: false (measured on engines)
  fallback: fail                # fail | estimate: without an engine provider (the reconciler's --online-engines),
                                #   fail them saying what to configure, or answer with the AI Configurator estimate
forge:                          # pull requests: the repository, when the operator names none; the API URL
  owner: my-org                 #   and the token are the operator's (--forge-api-url, GITOPS_SLA_FORGE_*)
  repository: my-gitops-repo
```
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from gitops_sla.models.base import StrictModel
from profiler.config import ProfileConfig
from profiler.dynamo_release import VERSION_PATTERN

REPO_CONFIG_API_VERSION = "gitops-sla.dev/v1alpha1"
LEGACY_REPO_CONFIG_API_VERSION = "gitops-sla.nvidia.com/v1alpha1"  # wave 1's group: accepted with a warning
NAMESPACE_PLACEHOLDER = "{namespace}"
# Namespaces no tenancy rule grants unless `protectedNamespaces` says otherwise: Kubernetes' own and the GitOps
# controllers' (a request in `requests/kube-system/` must not deploy into kube-system). `default` is not among
# them: Dynamo's quick-starts deploy there.
PROTECTED_NAMESPACES = ("kube-*", "flux-system", "argocd", "gitops-sla-system")

DeliveryMode = Literal["pull-request", "commit"]
UnattainableSlaAction = Literal["pull-request", "commit", "fail"]
DriftAction = Literal["restore", "report"]
PlannerMode = Literal["git", "patch", "advisory"]
# Keys of the `forge` section that would let the repository decide where credentials go: warned about, ignored.
OPERATOR_ONLY_FORGE_KEYS = {
    "api_url": "--forge-api-url or GITOPS_SLA_FORGE_API_URL",
    "token_env": "GITOPS_SLA_FORGE_TOKEN",
    "token_file": "--forge-token-file or GITOPS_SLA_FORGE_TOKEN_FILE",
}
_BAD_BRANCH = re.compile(r"^/|\.\.|//|@\{|\.lock$|/$|\.$|[\x00-\x20~^:?*\[\\\x7f]")


class AIConfiguratorDefaults(StrictModel):
    """AI Configurator settings used when a request names none."""

    system: str = "h200_sxm"
    backend_version: str | None = None


class SelectionDefaults(StrictModel):
    """Selection settings for requests whose profile config's `selection` sets none (docs/profiler.md)."""

    rule: Literal["fine", "dynamo"] | None = None
    ttft_margin: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None
    itl_margin: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None

    def digest(self) -> str:
        """What the settings add to every spec hash; empty when none is set (hashes stay as before)."""
        values = self.model_dump(exclude_none=True)
        return " ".join(f"{key}={values[key]!r}" for key in sorted(values))

    def apply(self, config: ProfileConfig) -> ProfileConfig:
        """`config` with these settings filling its unset `selection` fields."""
        mine = config.selection.model_dump(exclude_none=True)
        update = {key: value for key, value in self.model_dump(exclude_none=True).items() if key not in mine}
        if not update:
            return config
        return config.model_copy(update={"selection": config.selection.model_copy(update=update)})


class OnlineProfilingSettings(StrictModel):
    """What the repository allows for online requests. Where engines run is the operator's choice (the
    reconciler's `--online-engines`); the repository only says whether, without engines, the estimate may stand in
    (`estimate`, said in the status and the PR) or the request fails (`fail`, the default)."""

    fallback: Literal["fail", "estimate"] = "fail"


class TenancyRule(StrictModel):
    """Request files matching any of `paths` (globs; `*` stays within a folder, `**` crosses folders) may
    target the namespaces matching any of `namespaces` (globs; `{namespace}` is the request's folder)."""

    paths: Annotated[list[str], Field(min_length=1)]
    namespaces: Annotated[list[str], Field(min_length=1)]

    def matches_path(self, path: str) -> bool:
        return any(_glob_regex(pattern).fullmatch(path) for pattern in self.paths)

    def allows(self, namespace: str, folder_namespace: str | None) -> bool:
        for pattern in self.namespaces:
            if NAMESPACE_PLACEHOLDER in pattern:
                if folder_namespace is None:
                    continue
                pattern = pattern.replace(NAMESPACE_PLACEHOLDER, folder_namespace)
            if fnmatch.fnmatchcase(namespace, pattern):
                return True
        return False


_REMOTE_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/\s]+|[^/\s@:]+@[^/\s:]+:)", re.I)
_URL_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", re.I)


def is_remote_url(url: str) -> bool:
    """`https://host/...`, `ssh://host/...` or scp-like `git@host:path`; anything else is a local path."""
    return bool(_REMOTE_URL.match(url))


class PlannerSettings(StrictModel):
    """Which planner the generated DGDs run and how it applies its decisions.

    Without `image`, Dynamo's own planner runs (from the workers' runtime image on Dynamo 0.8, from
    `nvcr.io/nvidia/ai-dynamo/dynamo-planner:<version>` on Dynamo 1.x). With `image` (where this project's
    image is published, e.g. `ghcr.io/my-org/gitops-sla:0.1.0`), this project's planner runs from it and the
    other settings reach every Planner service (`--mode`, and in git mode `--git-repo`, `--git-branch`,
    `--git-commit-period`, `--git-pull-request`); a request's own planner keys win over them."""

    image: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\s]+$")] | None = None
    mode: PlannerMode = "advisory"
    commit_period_seconds: Annotated[int, Field(ge=0)] = 600
    git_repo: str | None = None
    pull_request: bool = False

    @field_validator("git_repo")
    @classmethod
    def _remote_url_without_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_remote_url(value):
            raise ValueError(f"gitRepo {value!r} is not a remote URL (https://..., ssh://... or git@host:path); "
                             "the planner pods push to it from the cluster")
        if _URL_USERINFO.match(value):
            raise ValueError("gitRepo would put a password or token into Git (and into every DGD); give the URL "
                             "without it and set GITOPS_SLA_GIT_TOKEN(_FILE) in the Planner service instead")
        return value


class DynamoSettings(StrictModel):
    """The cluster's Dynamo: `version` decides the generated DGD's API version (0.8.x: v1alpha1, 1.x: v1beta1)
    and the Dynamo images it references. Default: the release of the request's own API version (v1alpha1:
    0.8.1, v1beta1: 1.6.1), so a repository can hold both."""

    version: Annotated[str, StringConstraints(pattern=VERSION_PATTERN)] | None = None


class ForgeSettings(StrictModel):
    """The repository pull requests are opened in (`owner`/`repository`), when the operator names none.

    Where credentials go and which files or variables hold them is the operator's choice (the reconciler's flags
    and `GITOPS_SLA_FORGE_*` variables), never the repository's: `apiUrl`, `tokenEnv` and `tokenFile` are still
    read so that older files stay valid, reported as warnings and ignored (`OPERATOR_ONLY_FORGE_KEYS`)."""

    type: Literal["github", "gitlab", "gitea"] = "github"  # what the forge is; the operator's --forge decides
    api_url: str | None = None
    owner: Annotated[str, StringConstraints(min_length=1)]
    repository: Annotated[str, StringConstraints(min_length=1)]
    token_env: str | None = None
    token_file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_git(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("token", "password", "apiToken", "accessToken"):
                if key in data:
                    raise ValueError(
                        f"'{key}' would put a secret into Git; the reconciler's operator gives the forge token "
                        "(--forge-token-file or GITOPS_SLA_FORGE_TOKEN[_FILE])"
                    )
        return data

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"apiUrl {value!r} is not an http(s) URL")
        return value.rstrip("/")


def _default_tenancy() -> list[TenancyRule]:
    return [TenancyRule.model_validate({"paths": ["requests/*/*.yaml"], "namespaces": [NAMESPACE_PLACEHOLDER]})]


class RepoConfig(StrictModel):
    """`gitops-sla.yaml`."""

    api_version: Literal["gitops-sla.dev/v1alpha1", "gitops-sla.nvidia.com/v1alpha1"] = REPO_CONFIG_API_VERSION
    kind: Literal["RepoConfig"] = "RepoConfig"
    target_branch: Annotated[str, StringConstraints(min_length=1)] = "main"
    default_mode: DeliveryMode = "pull-request"
    on_unattainable_sla: UnattainableSlaAction = "pull-request"
    on_drift: DriftAction = "restore"
    ai_configurator: AIConfiguratorDefaults = Field(default_factory=AIConfiguratorDefaults)
    selection: SelectionDefaults = Field(default_factory=SelectionDefaults)
    tenancy: list[TenancyRule] = Field(default_factory=_default_tenancy)
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    online_profiling: OnlineProfilingSettings = Field(default_factory=OnlineProfilingSettings)
    dynamo: DynamoSettings = Field(default_factory=DynamoSettings)
    forge: ForgeSettings | None = None
    protected_namespaces: list[str] = Field(default_factory=lambda: list(PROTECTED_NAMESPACES))

    @field_validator("target_branch")
    @classmethod
    def _valid_branch(cls, value: str) -> str:
        if _BAD_BRANCH.search(value):
            raise ValueError(f"{value!r} is not a valid Git branch name")
        return value

    def delivery_mode(self, auto_apply: bool | None) -> DeliveryMode:
        """`commit` or `pull-request` for a request: its explicit `autoApply`, else `defaultMode`."""
        if auto_apply is None:
            return self.default_mode
        return "commit" if auto_apply else "pull-request"

    def protected(self, namespace: str) -> str | None:
        """The `protectedNamespaces` pattern that `namespace` matches, if any."""
        return next((p for p in self.protected_namespaces if fnmatch.fnmatchcase(namespace, p)), None)

    def namespace_allowed(self, request_path: str, namespace: str, folder_namespace: str | None = None) -> bool:
        """May the request at `request_path` target `namespace`? It must not be protected, and some rule
        matching the path must allow it."""
        if self.protected(namespace):
            return False
        return any(
            rule.matches_path(request_path) and rule.allows(namespace, folder_namespace) for rule in self.tenancy
        )

    def allowed_namespace_patterns(self, request_path: str, folder_namespace: str | None = None) -> list[str]:
        """The namespace patterns the rules matching `request_path` allow (placeholders filled in)."""
        patterns: list[str] = []
        for rule in self.tenancy:
            if rule.matches_path(request_path):
                for pattern in rule.namespaces:
                    if NAMESPACE_PLACEHOLDER in pattern and folder_namespace is not None:
                        pattern = pattern.replace(NAMESPACE_PLACEHOLDER, folder_namespace)
                    if pattern not in patterns:
                        patterns.append(pattern)
        return patterns


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`**` any characters including `/`, `*` any characters but `/`, `?` one character but `/`."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts))
