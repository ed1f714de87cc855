"""`gitops-sla status` and `gitops-sla reconcile --once` as a user runs them."""

from __future__ import annotations

import json

import yaml

from reconcile_support import cached_reconciler, request_yaml
from gitops_sla.cli import main


def test_status_table_and_json(remote, tmp_path, profile_cache, capsys, monkeypatch):
    monkeypatch.setenv("GITOPS_SLA_GIT_USERNAME", "bot")
    monkeypatch.setenv("GITOPS_SLA_GIT_TOKEN", "s3cret")
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.write("requests/team-a/review.yaml", request_yaml("review", auto_apply=False))
    person.write("requests/team-b/broken.yaml", request_yaml("broken").replace("ttft: 500.0", "ttft: -1"))
    person.commit_and_push("three requests")
    cached_reconciler(remote, tmp_path / "cache", profile_cache).run_pass(full=True)
    person.write("requests/team-b/new.yaml", request_yaml("new"))
    person.commit_and_push("not reconciled yet")

    assert main(["status", "--repo", remote.url, "--cache-dir", str(tmp_path / "status-cache")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["NAME", "NAMESPACE", "MODEL", "BACKEND", "STATE", "SLA", "MET", "AGE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["chat"][1:6] == ["team-a", "Qwen/Qwen3-32B", "trtllm", "Deploying", "True"]
    assert rows["review"][4:6] == ["Pending", "True"]  # from its pull-request branch
    assert rows["broken"][4:6] == ["Failed", "-"]
    assert rows["new"][4:6] == ["Pending", "-"] and rows["new"][6] == "<unknown>"

    assert main(["status", "--repo", remote.url, "--cache-dir", str(tmp_path / "status-cache"), "-o", "json"]) == 0
    items = {item["name"]: item for item in json.loads(capsys.readouterr().out)["items"]}
    assert items["review"]["branch"] == "gitops-sla/team-a/review"
    assert items["broken"]["status"]["issues"][0]["path"].endswith("sla.ttft")
    assert items["chat"]["specHash"].startswith("sha256:") and items["chat"]["upToDate"] is True

    assert main(["status", "--repo", remote.url, "--cache-dir", str(tmp_path / "status-cache"), "-o", "yaml"]) == 0
    as_yaml = {item["name"]: item for item in yaml.safe_load(capsys.readouterr().out)["items"]}
    def without_age(rows: dict) -> dict:  # the two calls may fall on either side of a second
        return {name: {k: v for k, v in row.items() if k != "ageSeconds"} for name, row in rows.items()}

    assert without_age(as_yaml) == without_age(items)  # the same data in both formats
    assert all(abs((as_yaml[name].get("ageSeconds") or 0) - (items[name].get("ageSeconds") or 0)) <= 60
               for name in items)


def test_reconcile_once_command(remote, tmp_path, profile_cache, capsys, monkeypatch):
    monkeypatch.setenv("GITOPS_SLA_GIT_USERNAME", "bot")
    monkeypatch.setenv("GITOPS_SLA_GIT_TOKEN", "s3cret")
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.commit_and_push("add chat")
    args = ["reconcile", "--repo", remote.url, "--once", "--cache-dir", str(tmp_path / "c"),
            "--profile-cache", str(profile_cache.root)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()  # one line as the pass starts the request, one as it ends it
    assert lines[0] == "team-a/chat: working" and lines[1].startswith("team-a/chat: generated (Deploying)")
    assert main(args) == 0
    assert "0 changed, 0 commits" in capsys.readouterr().out
    monkeypatch.setenv("GITOPS_SLA_GIT_TOKEN", "not-the-token")
    assert main([*args[:-2], "--cache-dir", str(tmp_path / "d")]) == 1
    assert "not-the-token" not in capsys.readouterr().err


def test_status_on_a_missing_branch_names_the_repository_without_its_password(remote, tmp_path, capsys):
    authed = remote.url.replace("http://", f"http://{remote.server.username}:{remote.server.password}@")
    assert main(["status", "--repo", authed, "--branch", "nope", "--cache-dir", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "branch 'nope' does not exist in http://***@127.0.0.1:" in err
    assert remote.server.password not in err
