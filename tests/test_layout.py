"""The repository layout functions."""

from __future__ import annotations

import pytest

from gitops_sla import layout


def test_request_path_round_trip() -> None:
    assert layout.request_path("team-a", "chat") == "requests/team-a/chat.yaml"
    assert layout.parse_request_path("requests/team-a/chat.yaml") == ("team-a", "chat")


@pytest.mark.parametrize(
    "path",
    [
        "requests/chat.yaml",
        "requests/team-a/sub/chat.yaml",
        "requests/team-a/chat.yml",
        "bases/team-a/chat.yaml",
        "requests/team-a/.yaml",
        "requests/.hidden/chat.yaml",
        "generated/team-a/chat/dgd.yaml",
    ],
)
def test_parse_request_path_rejects_other_paths(path: str) -> None:
    assert layout.parse_request_path(path) is None


def test_looks_like_request_covers_misplaced_files() -> None:
    assert layout.looks_like_request("requests/chat.yml")
    assert layout.looks_like_request("requests/a/b/c.yaml")
    assert not layout.looks_like_request("bases/a/b/disagg.yaml")
    assert not layout.looks_like_request("requests/README.md")


def test_generated_paths() -> None:
    assert layout.generated_dir("team-a", "chat") == "generated/team-a/chat"
    assert layout.generated_file("team-a", "chat", "status.yaml") == "generated/team-a/chat/status.yaml"
    assert layout.parse_generated_path("generated/team-a/chat/status.yaml") == ("team-a", "chat")
    assert layout.parse_generated_path("generated/team-a") is None


def test_base_config_path_is_the_git_form_of_config_map_ref() -> None:
    assert layout.base_config_path("team-a", "my-base", "disagg.yaml") == "bases/team-a/my-base/disagg.yaml"
    assert layout.base_config_path("team-a", "my-base") == "bases/team-a/my-base/disagg.yaml"
    assert layout.parse_base_config_path("bases/team-a/my-base/x.yaml") == ("team-a", "my-base", "x.yaml")


@pytest.mark.parametrize("bad", ["..", ".", "a/b", "", "a\\b"])
def test_path_segments_cannot_escape(bad: str) -> None:
    with pytest.raises(ValueError):
        layout.request_path(bad, "chat")
    with pytest.raises(ValueError):
        layout.generated_dir("team-a", bad)
    with pytest.raises(ValueError):
        layout.base_config_path("team-a", "base", bad or "x/y")
