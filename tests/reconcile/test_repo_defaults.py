"""The repository's default AI Configurator target is an input of every request that names none: changing it in
`gitops-sla.yaml` re-profiles such requests once, on the new system."""

from __future__ import annotations

import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote

CONFIG = ("apiVersion: gitops-sla.dev/v1alpha1\nkind: RepoConfig\ntargetBranch: main\ndefaultMode: commit\n"
          "aiConfigurator:\n  system: {system}\n")
REQ = "requests/team-a/chat.yaml"
OUT = "generated/team-a/chat"


def test_changing_the_default_aic_system_reprofiles_requests_that_name_none(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=CONFIG.format(system="h200_sxm"))
    person = remote.person(tmp_path / "person")
    request = request_yaml("chat")
    assert "        aic_system: h200_sxm\n" in request
    person.write(REQ, request.replace("        aic_system: h200_sxm\n", ""))
    person.commit_and_push("add chat, no AI Configurator system")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    assert [o.action for o in reconciler.run_pass(full=True).worked] == ["generated"]
    person.pull()
    first_hash = yaml.safe_load((person.root / OUT / "status.yaml").read_text())["specHash"]
    assert "`h200_sxm`" in (person.root / OUT / "report.md").read_text()
    assert reconciler.run_pass(full=True).worked == []  # up to date

    person.write("gitops-sla.yaml", CONFIG.format(system="h100_sxm"))
    person.commit_and_push("default AI Configurator system: h100_sxm")
    assert [o.action for o in reconciler.run_pass().worked] == ["generated"]
    person.pull()
    assert yaml.safe_load((person.root / OUT / "status.yaml").read_text())["specHash"] != first_hash
    assert "`h100_sxm`" in (person.root / OUT / "report.md").read_text()
    assert reconciler.run_pass(full=True).worked == []


TENANCY = ("apiVersion: gitops-sla.dev/v1alpha1\nkind: RepoConfig\ntargetBranch: main\ndefaultMode: commit\n"
           "tenancy:\n  - paths: [\"requests/*/*.yaml\"]\n    namespaces: [{namespaces}]\n")


def test_tightened_tenancy_fails_an_up_to_date_request_at_its_next_pass(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=TENANCY.format(namespaces='"{namespace}", prod'))
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat").replace("  deploymentOverrides:\n",
                                                    "  deploymentOverrides:\n    namespace: prod\n"))
    person.commit_and_push("chat deploys into prod, which the repo allows")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    assert [(o.action, o.state) for o in reconciler.run_pass(full=True).worked] == [("generated", "Deploying")]
    person.pull()
    dgd = (person.root / OUT / "dgd.yaml").read_bytes()

    person.write("gitops-sla.yaml", TENANCY.format(namespaces='"{namespace}"'))
    person.commit_and_push("prod is no longer allowed from requests/")
    assert [(o.action, o.state) for o in reconciler.run_pass().worked] == [("failed", "Failed")]
    person.pull()
    status = yaml.safe_load((person.root / OUT / "status.yaml").read_text())
    [issue] = status["issues"]
    assert issue["path"] == "spec.deploymentOverrides.namespace" and "tenancy" in issue["message"]
    assert (person.root / OUT / "dgd.yaml").read_bytes() == dgd  # nothing else changes on a validation failure
    assert reconciler.run_pass().worked == [] and reconciler.run_pass(full=True).worked == []


SELECTION = ("apiVersion: gitops-sla.dev/v1alpha1\nkind: RepoConfig\ntargetBranch: main\ndefaultMode: commit\n"
             "{selection}")


def test_repo_selection_defaults_apply_to_requests_that_set_none_and_reprofile_them(git_server, tmp_path,
                                                                                   profile_cache):
    remote = seed_remote(git_server, tmp_path, config=SELECTION.format(selection=""))
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat"))
    person.write("requests/team-a/own.yaml", request_yaml("own").replace(
        "      sla:\n", "      selection:\n        rule: fine\n      sla:\n"))
    person.commit_and_push("add chat and own (which sets its own selection rule)")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    assert sorted(o.action for o in reconciler.run_pass(full=True).worked) == ["generated", "generated"]
    person.pull()
    first = yaml.safe_load((person.root / OUT / "status.yaml").read_text())["specHash"]
    assert "Rule `fine`" in (person.root / OUT / "report.md").read_text()

    person.write("gitops-sla.yaml", SELECTION.format(selection="selection:\n  rule: dynamo\n"))
    person.commit_and_push("repository default: Dynamo's selection rule")
    worked = reconciler.run_pass().worked
    assert sorted(o.action for o in worked) == ["generated", "generated"]  # the spec hash of both changed
    person.pull()
    assert yaml.safe_load((person.root / OUT / "status.yaml").read_text())["specHash"] != first
    assert "Rule `dynamo`" in (person.root / OUT / "report.md").read_text()
    assert "Rule `fine`" in (person.root / "generated/team-a/own/report.md").read_text()  # its own setting wins
    assert reconciler.run_pass(full=True).worked == []
