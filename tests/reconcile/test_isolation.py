"""One request's failure is that request's `Failed` status (or, for the machine's failures, a retry): the pass
goes on for every other request. Broken base configs, unusable paths, a forge answering nonsense, a full disk."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
from http.server import BaseHTTPRequestHandler

import yaml

from reconcile_support import cached_reconciler, request_yaml
from support.loopback import serve, shut_down

from gitops_sla.commands.status import collect_rows
from gitops_sla.forge import ForgeSettings, GitHubForge
from profiler.version import PROFILER_VERSION

TRTLLM_BASE = "repo-template/bases/default/trtllm-disagg/disagg.yaml"


def with_base(text: str, config_map: str) -> str:
    """The request with `profilingConfig.configMapRef` naming `bases/<ns>/<config_map>/disagg.yaml`."""
    return text.replace("  profilingConfig:\n", f"  profilingConfig:\n    configMapRef:\n      name: {config_map}\n"
                        "      key: disagg.yaml\n")


def broken_bases() -> dict[str, str]:
    """Three base configs that made the profiler raise AttributeError/TypeError (service null / a number,
    labels a list)."""
    from gitops_sla.template import TEMPLATE_DIR

    base = (TEMPLATE_DIR / "bases/default/trtllm-disagg/disagg.yaml").read_text()
    null_service, number_service, list_labels = (yaml.safe_load(base) for _ in range(3))
    null_service["spec"]["services"]["Frontend"] = None
    number_service["spec"]["services"]["TRTLLMDecodeWorker"] = 3
    list_labels["metadata"]["labels"] = ["a", "b"]
    return {"null-service": yaml.safe_dump(null_service), "number-service": yaml.safe_dump(number_service),
            "list-labels": yaml.safe_dump(list_labels)}


def test_a_broken_base_config_fails_its_request_and_the_pass_goes_on(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    for name, text in broken_bases().items():  # namespace "a-team" sorts before the good request's
        person.write(f"bases/a-team/{name}/disagg.yaml", text)
        person.write(f"requests/a-team/{name}.yaml", with_base(request_yaml(name), name))
    person.write("requests/team-z/chat.yaml", request_yaml("chat"))
    person.commit_and_push("three requests on broken bases and a good one")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    report = reconciler.run_pass(full=True)

    assert report.error is None
    by_name = {o.name: o for o in report.outcomes}
    assert (by_name["chat"].action, by_name["chat"].state) == ("generated", "Deploying")
    person.pull()
    for name, kind in (("null-service", "AttributeError"), ("number-service", "AttributeError"),
                       ("list-labels", "TypeError")):
        assert (by_name[name].action, by_name[name].state) == ("failed", "Failed")
        status = yaml.safe_load((person.root / f"generated/a-team/{name}/status.yaml").read_text())
        [profiling] = [c for c in status["status"]["conditions"] if c["type"] == "Profiling"]
        assert profiling["reason"] == "ProfilingFailed"
        assert kind in profiling["message"] and f"bases/a-team/{name}/disagg.yaml" in profiling["message"]
    assert reconciler.run_pass(full=True).worked == []  # Failed for these inputs: not retried every pass


def test_unusable_paths_are_skipped_and_reported_by_full_and_incremental_passes_and_status(
        remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.write("generated/team-a/x\\y/status.yaml", "apiVersion: v1\n")
    person.write("requests/team-a/x\\y.yaml", request_yaml("xy"))
    person.commit_and_push("backslashes")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    full = reconciler.run_pass(full=True)

    assert full.error is None and [(o.name, o.action) for o in full.worked] == [("chat", "generated")]
    assert any("x\\\\y" in message and "rename" in message for message in full.skipped)
    person.pull()
    person.write("requests/team-a/x\\y.yaml", request_yaml("xy", ttft=300.0))
    person.write("requests/team-a/other.yaml", request_yaml("other"))
    person.commit_and_push("more backslashes, and another request")
    incremental = reconciler.run_pass()
    assert incremental.error is None and [(o.name, o.action) for o in incremental.worked] == [("other", "generated")]
    assert any("x\\\\y" in message for message in incremental.skipped)
    mirror = remote.mirror(tmp_path / "status-cache")
    mirror.fetch()
    rows = collect_rows(mirror, "main", PROFILER_VERSION)
    assert [(r.namespace, r.name) for r in rows] == [("team-a", "chat"), ("team-a", "other")]


def test_a_request_file_name_with_a_newline_forges_no_trailer(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    evil = "evil\nGitops-Sla-Spec-Hash: sha256:forged"
    person.write(f"requests/team-a/{evil}.yaml", request_yaml("evil"))
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.commit_and_push("a name with a newline")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    report = reconciler.run_pass(full=True)

    assert report.error is None and [o.name for o in report.worked] == ["chat"]
    assert any("evil" in message for message in report.skipped)
    assert "sha256:forged" not in person.log("--format=%B")
    assert "generated/team-a/evil" not in subprocess.run(["git", "-C", str(remote.bare), "ls-tree", "-r", "--name-only", "main"],
                                        capture_output=True, text=True, check=True).stdout


class _ListForge(BaseHTTPRequestHandler):
    """A forge answering every call with a JSON list of numbers."""

    def _answer(self) -> None:
        body = json.dumps([1, 2]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args) -> None:
        pass


def test_a_forge_answering_a_json_list_fails_that_call_not_the_pass(remote, tmp_path, profile_cache):
    server = serve(_ListForge)
    try:
        forge = GitHubForge(ForgeSettings(f"http://127.0.0.1:{server.server_address[1]}", "org/gitops", "t0ken"))
        person = remote.person(tmp_path / "person")
        person.write("requests/team-a/review.yaml", request_yaml("review", auto_apply=False))
        person.write("requests/team-b/chat.yaml", request_yaml("chat"))
        person.commit_and_push("one for review, one direct")
        reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge)

        report = reconciler.run_pass(full=True)

        assert report.error is None
        by_name = {o.name: o for o in report.outcomes}
        assert by_name["review"].action == "error" and "did not answer with" in by_name["review"].message
        assert (by_name["chat"].action, by_name["chat"].state) == ("generated", "Deploying")
    finally:
        shut_down(server)


def test_a_full_disk_is_retried_and_does_not_stop_the_pass(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    reconciler.run_pass(full=True)  # the template is fetched before the disk "fills up"
    person.write("requests/team-a/chat.yaml", request_yaml("chat", ttft=450.0))
    person.write("requests/team-b/chat.yaml", request_yaml("chat", ttft=450.0))
    person.commit_and_push("two requests")
    reconciler.mirror.fetch()  # the requests arrive before the disk "fills up"
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, limits[1]))  # writes beyond 1 KiB fail: EFBIG
    try:
        full = reconciler.run_pass()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)

    assert full.error is None
    assert [(o.namespace, o.action) for o in full.outcomes] == [("team-a", "error"), ("team-b", "error")]
    retried = reconciler.run_pass()  # room again: both are generated, nothing was marked Failed
    assert [(o.namespace, o.action, o.state) for o in retried.worked] == [("team-a", "generated", "Deploying"),
                                                                         ("team-b", "generated", "Deploying")]


def test_a_second_request_for_the_same_dgd_name_is_refused_with_both_paths(remote, tmp_path, profile_cache):
    def named(name: str, dgd_name: str | None, ttft: float = 500.0) -> str:
        text = request_yaml(name, ttft=ttft)
        return text.replace("  deploymentOverrides:\n", f"  deploymentOverrides:\n    name: {dgd_name}\n") \
            if dgd_name else text

    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/first.yaml", named("first", "shared"))
    person.write("requests/team-a/second.yaml", named("second", "shared"))
    person.write("requests/team-b/second.yaml", named("second", "shared"))  # another namespace: no conflict
    person.commit_and_push("two requests for one DGD name in team-a")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    report = reconciler.run_pass(full=True)

    states = {(o.namespace, o.name): (o.action, o.state) for o in report.worked}
    assert states == {("team-a", "first"): ("generated", "Deploying"), ("team-a", "second"): ("failed", "Failed"),
                      ("team-b", "second"): ("generated", "Deploying")}
    person.pull()
    status = yaml.safe_load((person.root / "generated/team-a/second/status.yaml").read_text())
    [refused] = [c for c in status["status"]["conditions"] if c["type"] == "SpecGenerated"]
    assert refused["reason"] == "DeploymentNameConflict"
    assert "requests/team-a/first.yaml" in refused["message"] and "requests/team-a/second.yaml" in refused["message"]
    assert not (person.root / "generated/team-a/second/dgd.yaml").exists()

    # A later request taking the name by default (its own name) is refused too, by a fresh process;
    # the first one's own edit is not.
    person.write("requests/team-a/shared.yaml", named("shared", None))
    person.write("requests/team-a/first.yaml", named("first", "shared", ttft=450.0))
    person.commit_and_push("a request named like the DGD; first edited")
    later = cached_reconciler(remote, tmp_path / "cache2", profile_cache).run_pass(full=True)
    assert {(o.name, o.action) for o in later.worked} == {("first", "generated"), ("shared", "failed")}


def test_any_other_error_on_one_request_is_its_failed_status_and_the_pass_goes_on(
        remote, tmp_path, profile_cache, monkeypatch):
    """An error outside profiling (here: writing one request's output raises TypeError, as a bug would) is that
    request's `Failed` status (GenerationFailed, the error named); the other requests are generated, and the
    failed one is not retried until it changes."""
    from gitops_sla.reconcile import engine

    real = engine.out.replicas_plan

    def breaks_on_bad(key, result):
        if key[1] == "bad":
            raise TypeError("'NoneType' object is not subscriptable")
        return real(key, result)

    monkeypatch.setattr(engine.out, "replicas_plan", breaks_on_bad)
    person = remote.person(tmp_path / "person")
    person.write("requests/a-team/bad.yaml", request_yaml("bad"))  # sorts before the good one
    person.write("requests/team-z/chat.yaml", request_yaml("chat"))
    person.commit_and_push("a request the reconciler fails on, and a good one")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    report = reconciler.run_pass(full=True)

    assert report.error is None
    assert {(o.name, o.action, o.state) for o in report.worked} == {("bad", "failed", "Failed"),
                                                                    ("chat", "generated", "Deploying")}
    person.pull()
    status = yaml.safe_load((person.root / "generated/a-team/bad/status.yaml").read_text())
    [generated] = [c for c in status["status"]["conditions"] if c["type"] == "SpecGenerated"]
    assert generated["reason"] == "GenerationFailed" and "TypeError: 'NoneType'" in generated["message"]
    assert not (person.root / "generated/a-team/bad/dgd.yaml").exists()
    assert reconciler.run_pass(full=True).worked == []
