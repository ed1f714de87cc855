"""Tokens from a value, an environment variable or a file; errors name the file, never the secret."""

import pytest

from gitops_sla.forge import ForgeError, ForgeSettings
from gitops_sla.git.auth import GitAuthError, GitCredentials


def test_explicit_value_wins_over_environment_and_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    env = {"GITOPS_SLA_GIT_TOKEN": "from-env", "GITOPS_SLA_GIT_TOKEN_FILE": str(token_file)}
    assert GitCredentials.resolve(token="explicit", env=env).password == "explicit"
    assert GitCredentials.resolve(env=env).password == "from-env"
    assert GitCredentials.resolve(env={"GITOPS_SLA_GIT_TOKEN_FILE": str(token_file)}).password == "from-file"
    assert GitCredentials.resolve(env={}) is None


def test_forge_token_from_file_and_repo_from_remote_url(tmp_path):
    token_file = tmp_path / "forge-token"
    token_file.write_text("s3cret\n")
    settings = ForgeSettings.resolve(token_file=token_file, remote_url="https://github.com/org/gitops.git", env={})
    assert (settings.repo, settings.token) == ("org/gitops", "s3cret")
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize("content", [None, "  \n"])
def test_missing_or_empty_token_file_is_a_clear_error(tmp_path, content):
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    with pytest.raises(GitAuthError, match=str(token_file)):
        GitCredentials.resolve(env={"GITOPS_SLA_GIT_TOKEN_FILE": str(token_file)})
    with pytest.raises(ForgeError, match="forge token file"):
        ForgeSettings.resolve(token_file=token_file, repo="org/gitops", env={})
