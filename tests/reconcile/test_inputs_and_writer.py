"""Change detection from Git objects and the writer's tree building, on real (local) repositories."""

from __future__ import annotations

import pygit2

from gitops_sla.git import Changes, Mirror, Snapshot, build_tree, commit_changes
from gitops_sla.git.writer import format_message
from gitops_sla.reconcile.inputs import (
    Generator,
    RecordedStatus,
    changed_keys,
    discover_requests,
    is_up_to_date,
    namespace_bases,
    spec_hash,
)

SIG = pygit2.Signature("t", "t@example.com")


def _snapshot(repo, files, parent=None) -> Snapshot:
    base = repo.get(parent).tree if parent else None
    tree = build_tree(repo, base, files)
    commit = repo.create_commit(None, SIG, SIG, "x", tree, [parent] if parent else [])
    return Snapshot.of(repo, str(commit))


def _paths(snapshot: Snapshot) -> list[str]:
    return sorted(path for path, _ in snapshot.walk_files(""))


def test_build_tree_adds_removes_and_replaces_folders(tmp_path):
    repo = pygit2.init_repository(str(tmp_path / "r"), bare=True)
    first = _snapshot(repo, {"g/a/old": b"1", "g/a/keep": b"2", "g/b/x": b"3", "top": b"t"})
    second = _snapshot(repo, {"g/a": None, "g/a/new": b"n"}, first.commit_id)
    assert _paths(second) == ["g/a/new", "g/b/x", "top"]
    third = _snapshot(repo, {"g/a": None, "g/b/x": None}, second.commit_id)
    assert _paths(third) == ["top"]  # empty folders disappear
    assert second.tree_id_of("g/b") == first.tree_id_of("g/b")  # untouched subtrees are reused


def test_spec_hash_detects_request_and_base_changes(tmp_path):
    repo = pygit2.init_repository(str(tmp_path / "r"), bare=True)
    old = _snapshot(repo, {"requests/ns/a.yaml": b"a", "requests/ns/b.yaml": b"b",
                           "bases/ns/cm/disagg.yaml": b"base", "README.md": b"r"})
    requests = discover_requests(old)
    assert set(requests) == {("ns", "a"), ("ns", "b")}
    bases = namespace_bases(old, "ns")
    v1, v2 = Generator("v1", "p1"), Generator("v2", "p1")
    a, b = ("ns", "a"), ("ns", "b")
    with_base = spec_hash(b, requests[b], bases[0], v1)
    assert is_up_to_date(RecordedStatus(with_base, "Ready"), b, requests[b], bases, v1)
    assert not is_up_to_date(RecordedStatus(with_base, "Ready"), b, requests[b], bases, v2)
    assert not is_up_to_date(RecordedStatus(with_base, "Ready"), b, requests[b], bases, Generator("v1", "p2"))
    assert not is_up_to_date(RecordedStatus(with_base, "Profiling"), b, requests[b], bases, v1)
    plain = spec_hash(a, requests[a], None, v1)
    assert is_up_to_date(RecordedStatus(plain, "Failed"), a, requests[a], bases, v1)
    # the same file in another folder is another request (its output names another folder)
    assert spec_hash(("other", "a"), requests[a], None, v1) != plain

    new = _snapshot(repo, {"bases/ns/cm/disagg.yaml": b"base v2", "requests/ns/a.yaml": b"a2",
                           "generated/ns/b/status.yaml": b"s", "README.md": b"r2"}, old.commit_id)
    keys, namespaces, config_changed = changed_keys(old, new)
    assert keys == {("ns", "a"), ("ns", "b")} and namespaces == {"ns"} and not config_changed
    assert not is_up_to_date(RecordedStatus(with_base, "Ready"), b, requests[b], namespace_bases(new, "ns"), v1)


def test_commit_changes_makes_no_empty_commits(tmp_path):
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True, initial_head="main")
    mirror = Mirror(str(origin), tmp_path / "cache")
    first = commit_changes(mirror, "main", lambda s: Changes({"a.txt": b"1"}), "add a", {"Key": "v"})
    assert first.pushed and first.parent is None
    again = commit_changes(mirror, "main", lambda s: Changes({"a.txt": b"1"}), "add a again")
    assert not again.pushed and again.parent == first.commit
    assert not commit_changes(mirror, "main", lambda s: None, "nothing").pushed
    commit = pygit2.Repository(str(origin)).get(first.commit)
    assert commit.message == "add a\n\nKey: v\n" and commit.message_trailers == {"Key": "v"}
    assert format_message("s\n", None) == "s\n"
