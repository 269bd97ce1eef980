from __future__ import annotations

import pytest

from bot.adapters.git import GitIdentity
from bot.adapters.git.paths import check_ref, repo_relpath


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("apps/chat/values.yaml", "apps/chat/values.yaml"),
        ("./apps//chat/values.yaml", "apps/chat/values.yaml"),
        (".gitops-bot.yaml", ".gitops-bot.yaml"),
        ("terraform/staging/serving.auto.tfvars", "terraform/staging/serving.auto.tfvars"),
    ],
)
def test_repository_paths(path: str, expected: str) -> None:
    assert repo_relpath(path) == expected


@pytest.mark.parametrize(
    "path", ["", ".", "/etc/passwd", "../x", "apps/../../x", ".git/config", "a/.git/x", "a\0b"]
)
def test_bad_repository_paths(path: str) -> None:
    with pytest.raises(ValueError):
        repo_relpath(path)


@pytest.mark.parametrize("ref", ["", "-rf", "--upload-pack=evil", "main branch", "a\nb"])
def test_refs_that_git_would_misread_are_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="invalid git ref"):
        check_ref(ref)


@pytest.mark.parametrize(
    ("name", "email"), [("", "bot@example.com"), ("bot", " "), ("b<o>t", "bot@example.com"), ("bot", "a\n@b")]
)
def test_bad_identities(name: str, email: str) -> None:
    with pytest.raises(ValueError, match="git identity"):
        GitIdentity(name, email)
