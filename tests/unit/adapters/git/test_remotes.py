from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from bot.adapters.git import parse_remote, redact

TOKEN = "s3cret-token-0123456789"


@pytest.mark.parametrize(
    ("url", "scheme", "host", "owner", "name"),
    # GitLab's nested groups: see test_nested_groups_keep_their_own_mirror
    [
        ("https://github.com/acme/gitops.git", "https", "github.com", "acme", "gitops"),
        ("https://github.com/acme/gitops", "https", "github.com", "acme", "gitops"),
        ("https://GHE.example.com:8443/acme/gitops.git", "https", "ghe.example.com_8443", "acme", "gitops"),
        ("http://127.0.0.1:9999/acme/gitops.git", "http", "127.0.0.1_9999", "acme", "gitops"),
        ("git@github.com:acme/gitops.git", "ssh", "github.com", "acme", "gitops"),
        ("ssh://git@github.com/acme/gitops.git", "ssh", "github.com", "acme", "gitops"),
        ("file:///srv/git/acme/gitops.git", "file", "local", "acme", "gitops"),
    ],
)
def test_parse_remote(url: str, scheme: str, host: str, owner: str, name: str) -> None:
    remote = parse_remote(url)
    assert (remote.scheme, remote.host, remote.owner, remote.name) == (scheme, host, owner, name)
    assert remote.url == url
    assert remote.full_name == f"{owner}/{name}"
    assert remote.mirror_relpath == PurePosixPath(host, owner, f"{name}.git")


def test_nested_groups_keep_their_own_mirror() -> None:
    """Two GitLab projects that differ only above their last two path segments never share a mirror."""
    one = parse_remote("https://gitlab.example.com/group/sub/acme/my.repo.git")
    other = parse_remote("https://gitlab.example.com/other/acme/my.repo.git")
    assert (one.owner, one.name, one.namespace, one.full_name) == (
        "acme",
        "my.repo",
        "group/sub",
        "acme/my.repo",
    )
    assert one.mirror_relpath == PurePosixPath("gitlab.example.com", "group", "sub", "acme", "my.repo.git")
    assert other.mirror_relpath == PurePosixPath("gitlab.example.com", "other", "acme", "my.repo.git")
    assert parse_remote("git@gitlab.example.com:group/sub/acme/x.git").namespace == "group/sub"


def test_an_absolute_path_becomes_a_file_url() -> None:
    remote = parse_remote("/srv/git/acme/gitops.git")
    assert remote.url == "file:///srv/git/acme/gitops.git"
    assert remote.host == "local"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"https://x-access-token:{TOKEN}@github.com/acme/gitops.git", "carries credentials"),
        (f"https://{TOKEN}@github.com/acme/gitops.git", "carries credentials"),
        (f"ssh://git:{TOKEN}@github.com/acme/gitops.git", "carries a password"),
        ("", "empty"),
        ("https://github.com/gitops.git", "owner>/<repository"),
        ("https://github.com/acme/..", "unusable"),
        ("https://github.com/acme/-rf", "unusable"),
        ("ftp://example.com/acme/gitops.git", "unsupported remote URL scheme"),
        ("file://otherhost/srv/acme/gitops.git", "names a host"),
        ("not a url", "unsupported remote URL"),
    ],
)
def test_bad_remotes_are_refused_without_echoing_secrets(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_remote(url)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        (f"push failed for {TOKEN}", [TOKEN], "push failed for ***"),
        (
            "fatal: unable to access 'https://user:pw@github.com/a/b.git/'",
            [],
            "'https://***@github.com/a/b.git/'",
        ),
        ("http.extraHeader=Authorization: Bearer abc.def", [], "Authorization: ***"),
        ("AUTHORIZATION: basic eHg6eXk=", [], "AUTHORIZATION: ***"),
        ("token ghs_" + "a" * 36 + " leaked", [], "token *** leaked"),
        ("github_pat_" + "B" * 40, [], "***"),
        ("short secret x stays", ["x"], "short secret x stays"),
        ("nothing to hide", [TOKEN], "nothing to hide"),
        ("ssh://git:hunter22@example.com/a/b.git", [], "ssh://***@example.com/a/b.git"),
        ("ssh://git@example.com/a/b.git", [], "ssh://git@example.com/a/b.git"),
        (f"{TOKEN}-longer and {TOKEN}", [TOKEN, f"{TOKEN}-longer"], "*** and ***"),
    ],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert expected in redact(text, secrets)
    for secret in secrets:
        if len(secret) >= 4:
            assert secret not in redact(text, secrets)


def test_gitlab_tokens_are_redacted_from_git_output() -> None:
    token = "glpat-" + "Ab1_-" * 5
    assert redact(f"fatal: could not read from https://gitlab.example.com ({token})") == (
        "fatal: could not read from https://gitlab.example.com (***)"
    )
