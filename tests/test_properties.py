"""Property-based tests (hypothesis) over the loader, the validator and request -> status: generated malformed
and extreme inputs never crash, every problem is located in its file, and what the reconciler would write for
an invalid request stays inside the request's own `generated/<namespace>/<name>/` folder and small.

300 generated inputs per run (a fresh random sample each run; hypothesis keeps no example database, and its
cache lives in pytest's temporary folder, so nothing is left in the working tree)."""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from gitops_sla import layout
from gitops_sla.git.snapshot import Snapshot
from gitops_sla.reconcile.output import failed_status, status_only_files
from gitops_sla.validation import MAX_ISSUES, validate_repo_config, validate_request_file
from gitops_sla.yamlsafe import YamlError, load_yaml

PROPERTIES = settings(max_examples=100, deadline=None, database=None,  # nothing written to .hypothesis/
                      phases=[Phase.explicit, Phase.generate, Phase.shrink],
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
VALID = yaml.safe_load(
    (Path(__file__).parent / "data" / "malformed" / "001-type-isl-string.yaml").read_text()
    .replace("isl: abc", "isl: 3000")
)

_EXTREME_NUMBERS = st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30, -(10**30), 1e308, -1e-308, float("inf"),
                                    float("-inf"), float("nan"), 0.5])
_NASTY_TEXT = st.sampled_from(["", " ", "../../etc/passwd", "/etc/shadow", "a/b/c", "x\\y", "\u202e", "é", "ｈ２００",
                               "planner_git_repo", "true", "null", "~", "0x1F", "1e400", "a" * 300, "\n", "-",
                               "kube-system", "requests/team-b/x.yaml", "${HOME}", "%s%n"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), _EXTREME_NUMBERS,
                     st.text(max_size=40), _NASTY_TEXT)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                       max_leaves=12)
_KEYS = st.one_of(st.text(min_size=1, max_size=30), _NASTY_TEXT.filter(bool),
                  st.sampled_from(["planner_git_repo", "plannerGitPath", "gitRepo", "aicSystem", "osl", "isl",
                                   "decodeInterpolationGranularity", "maxNumGpusPerEngine", "status",
                                   "resourceVersion", "namespace", "tokenFile", "apiUrl"]))


_HOME = tempfile.mkdtemp(prefix="hypothesis-")  # set before any strategy runs: hypothesis caches on first use
set_hypothesis_home_dir(_HOME)


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_home():
    """Hypothesis's own caches (Unicode tables, constants) in a temporary folder, removed afterwards, instead of
    `.hypothesis/` in the working tree."""
    yield
    set_hypothesis_home_dir(None)
    shutil.rmtree(_HOME, ignore_errors=True)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a mapping value or list item of `node`."""
    found: list[tuple] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append(prefix + (key,))
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append(prefix + (index,))
            found += _paths(value, prefix + (index,))
    return found


@st.composite
def mutated_requests(draw) -> Any:
    """The valid request with a few values replaced, keys added or removed (anywhere in it)."""
    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "add", "remove"]))
        if action == "replace":
            parent[path[-1]] = draw(_VALUES)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(_KEYS)] = draw(_VALUES)
        elif isinstance(parent, dict):
            del parent[path[-1]]
    return document


def _with(path: tuple, value: Any) -> Any:
    document = copy.deepcopy(VALID)
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return document


def _dump(document: Any) -> bytes:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()


def _check_located(result, name: str, raw: bytes) -> None:
    lines = raw.count(b"\n") + 1
    for issue in result.issues:
        assert issue.file == name
        assert 1 <= issue.line <= lines + 1 and issue.column >= 1, str(issue)
        assert issue.message
    assert len(result.issues) <= MAX_ISSUES + 1


@PROPERTIES
@given(st.one_of(st.binary(max_size=2048), st.text(max_size=1024).map(str.encode)))
def test_the_loader_refuses_junk_with_a_located_error_and_never_crashes(raw: bytes) -> None:
    try:
        load_yaml(raw, "junk.yaml")
    except YamlError as error:
        assert error.file == "junk.yaml" and error.line >= 1 and error.column >= 1 and error.message
    result = validate_request_file(raw, file="requests/team-a/chat.yaml")
    _check_located(result, "requests/team-a/chat.yaml", raw)
    assert validate_repo_config(raw, file="gitops-sla.yaml").issues is not None


@PROPERTIES
@given(mutated_requests())
@example(_with(("spec", "profilingConfig", "config", "planner"), None))  # found by it: invalid, yet no issue
def test_mutated_requests_get_located_issues_never_a_crash(document: Any) -> None:
    raw = _dump(document)
    result = validate_request_file(raw, file="requests/team-a/chat.yaml")
    _check_located(result, "requests/team-a/chat.yaml", raw)
    if result.request is None:
        assert any(issue.severity == "error" for issue in result.issues)
    else:
        config = result.request.to_profile_config(None, namespace="team-a")
        assert 0 < config.sla.isl + config.sla.osl <= 1_048_576 + 262_144
        assert not {"planner_git_repo", "planner_git_path", "planner_git_branch"} & set(config.planner)



@pytest.fixture(scope="module")
def empty_head(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The target branch of a new repository: no folder of the request exists yet."""
    return Snapshot.of(pygit2.init_repository(str(tmp_path_factory.mktemp("repo")), bare=True), None)


@PROPERTIES
@given(mutated_requests(), st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
       st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True))
@example(_with(("spec", "backend"), []), "a", "a")  # found by this test: the name check crashed on a list
def test_an_invalid_requests_status_stays_in_its_own_folder_and_small(empty_head: Snapshot, document: Any,
                                                                      namespace: str, name: str) -> None:
    raw = _dump(document)
    path = layout.request_path(namespace, name)
    result = validate_request_file(raw, file=path)
    if result.request is not None:
        return
    status = failed_status((namespace, name), spec_hash="0" * 16, source_commit="0" * 40, profiler_version="test",
                           reason="ValidationFailed", message="invalid", issues=result.issues)
    files = status_only_files((namespace, name), status, empty_head)
    folder = layout.generated_dir(namespace, name) + "/"
    assert files and all(file.startswith(folder) and ".." not in file.split("/") for file in files)
    assert all(len(content or b"") < 200_000 for content in files.values())
    assert yaml.safe_load(files[folder + "status.yaml"])["status"]["state"] == "Failed"
