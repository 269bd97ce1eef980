"""Pure parts of the forge port and adapter: reviews, permissions, reviewers, errors, keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait, UnknownObjectException

from bot.adapters.forge.auth import load_private_key
from bot.adapters.forge.github import translate
from bot.adapters.forge.port import (
    ForgeAuthError,
    ForgeError,
    ForgeNotFound,
    ForgeRateLimited,
    ForgeUnavailable,
    ForgeValidationError,
    PullRequestSpec,
    Review,
    normalise_permission,
    reviewer_targets,
    split_full_name,
    summarize_reviews,
)

R = Review


@pytest.mark.parametrize(
    ("reviews", "approved", "changes"),
    [
        ([], (), ()),
        ([R("alice", "APPROVED")], ("alice",), ()),
        ([R("author", "APPROVED")], (), ()),
        ([R("Author", "APPROVED")], (), ()),  # logins compare case-insensitively
        ([R("alice", "APPROVED"), R("alice", "DISMISSED")], (), ()),
        ([R("alice", "APPROVED"), R("alice", "COMMENTED")], ("alice",), ()),
        ([R("alice", "APPROVED"), R("alice", "PENDING")], ("alice",), ()),
        ([R("alice", "CHANGES_REQUESTED"), R("alice", "APPROVED")], ("alice",), ()),
        ([R("alice", "APPROVED"), R("alice", "CHANGES_REQUESTED")], (), ("alice",)),
        ([R("alice", "APPROVED"), R("bob", "CHANGES_REQUESTED")], ("alice",), ("bob",)),
        ([R("bob", "COMMENTED")], (), ()),
        ([R("bob", "approved")], ("bob",), ()),
    ],
)
def test_latest_review_per_user_wins(
    reviews: list[Review], approved: tuple[str, ...], changes: tuple[str, ...]
) -> None:
    summary = summarize_reviews(reviews, author="author")
    assert summary.approved_by == approved
    assert summary.changes_requested_by == changes
    assert summary.approved is bool(approved)


@pytest.mark.parametrize(
    ("role_name", "permission", "level"),
    [
        ("maintain", "write", "maintain"),
        ("triage", "read", "triage"),
        ("admin", "admin", "admin"),
        ("custom-deployer", "write", "write"),
        (None, "read", "read"),
        (None, None, "none"),
        ("weird", "weird", "none"),
    ],
)
def test_permission_levels(role_name: str | None, permission: str | None, level: str) -> None:
    assert normalise_permission(role_name, permission) == level


def test_reviewer_targets() -> None:
    assert reviewer_targets(["alice", "@bob", "team:ml-platform", "team:acme/sre", " "]) == (
        ("alice", "bob"),
        ("ml-platform", "sre"),
    )


@pytest.mark.parametrize("name", ["acme", "acme/", "/x", "a/b/c", ""])
def test_full_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        split_full_name(name)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"head": ""}, "head"),
        ({"title": " "}, "title"),
        ({"body": "x" * 70_000}, "body"),
    ],
)
def test_pull_request_specs_are_checked(kwargs: dict[str, str], message: str) -> None:
    values = {"head": "b", "base": "main", "title": "t", "body": ""}
    values.update(kwargs)
    with pytest.raises(ValueError, match=message):
        PullRequestSpec(**values)


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (UnknownObjectException(404, {"message": "Not Found"}, {}), ForgeNotFound, 404),
        (GithubException(404, {"message": "No commit found for the ref x"}, {}), ForgeNotFound, 404),
        (GithubException(401, {"message": "Bad credentials"}, {}), ForgeAuthError, 401),
        (
            GithubException(403, {"message": "Resource not accessible by integration"}, {}),
            ForgeAuthError,
            403,
        ),
        (
            GithubException(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"message": "A pull request already exists for a:b."}],
                },
                {},
            ),
            ForgeValidationError,
            422,
        ),
        (GithubException(502, {"message": "Server Error"}, {}), ForgeUnavailable, 502),
        (GithubException(429, {"message": "slow down"}, {"retry-after": "30"}), ForgeRateLimited, 429),
        (GithubException(418, {"message": "teapot"}, {}), ForgeError, 418),
        (
            RateLimitExceededExceedsMaxWait(403, {"message": "API rate limit exceeded"}, {}, wait=900),
            ForgeRateLimited,
            403,
        ),
        (requests.exceptions.ConnectionError("refused"), ForgeUnavailable, None),
    ],
)
def test_errors_are_translated(error: Exception, kind: type[ForgeError], status: int | None) -> None:
    translated = translate(error)
    assert type(translated) is kind
    assert translated.status == status


def test_translated_errors_keep_the_details() -> None:
    error = GithubException(
        422,
        {"message": "Validation Failed", "errors": [{"message": "A pull request already exists for a:b."}]},
        {},
    )
    assert translate(error).message == "Validation Failed: A pull request already exists for a:b."
    limited = translate(RateLimitExceededExceedsMaxWait(429, {"message": "x"}, {}, wait=120.0))
    assert isinstance(limited, ForgeRateLimited) and limited.retry_after == 120.0
    assert translate(GithubException(429, {"message": "x"}, {"Retry-After": "30"})).retry_after == 30.0  # type: ignore[attr-defined]


PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"


def test_private_key_from_text_or_path(tmp_path: Path) -> None:
    assert load_private_key(PEM) == PEM + "\n"
    assert load_private_key(PEM.replace("\n", "\\n")) == PEM + "\n"
    key_file = tmp_path / "key.pem"
    key_file.write_text(PEM + "\n")
    assert load_private_key(str(key_file)) == PEM + "\n"
    (tmp_path / "not-a-key").write_text("hello")
    with pytest.raises(ValueError, match="does not contain a PEM"):
        load_private_key(str(tmp_path / "not-a-key"))
    with pytest.raises(ValueError, match="no file at"):
        load_private_key(str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="empty"):
        load_private_key("  ")


def test_factory_from_settings() -> None:
    from bot.adapters.forge.github import GitHubForgeFactory
    from bot.settings import Settings

    settings = Settings(_env_file=None, github_token="ghp_x", github_api_url="https://ghe.example.com/api/v3")
    factory = GitHubForgeFactory.from_settings(settings, seconds_between_writes=0.0)
    assert not factory.uses_app
    forge = factory.for_installation(None)
    assert forge.client.requester.base_url == "https://ghe.example.com/api/v3"
    assert factory.for_installation(123) is forge  # a token covers every installation
    factory.close()
