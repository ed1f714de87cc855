"""The repository's default AI Configurator target is an input of every request that names none: changing it in
`gitops-sla.yaml` re-profiles such requests once, on the new system."""

from __future__ import annotations

import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote

CONFIG = ("apiVersion: gitops-sla.nvidia.com/v1alpha1\nkind: RepoConfig\ntargetBranch: main\ndefaultMode: commit\n"
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
