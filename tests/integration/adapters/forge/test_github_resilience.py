"""App auth with installation tokens, retries and rate limits: the adapter against the stand-in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.adapters.forge.github import GitHubForge, GitHubForgeFactory
from bot.adapters.forge.port import ForgeAuthError, ForgeNotFound, ForgeRateLimited, ForgeUnavailable
from tests.integration.adapters.forge.conftest import REPO, fast_factory
from tests.support.github_standin import GitHubStandIn

APP_ID = 4242
INSTALLATION = 77


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def app_standin(standin: GitHubStandIn, app_key: tuple[str, str]) -> GitHubStandIn:
    standin.configure_app(APP_ID, app_key[1])
    standin.add_installation(INSTALLATION, "acme", [REPO])
    return standin


def app_factory(standin: GitHubStandIn, private_key: str) -> GitHubForgeFactory:
    return fast_factory(standin, token=None, app_id=APP_ID, private_key=private_key)


def test_app_auth_mints_an_installation_token_once_and_reuses_it(
    app_standin: GitHubStandIn, app_key: tuple[str, str]
) -> None:
    factory = app_factory(app_standin, app_key[0])
    try:
        forge = factory.for_installation(INSTALLATION)
        assert factory.for_installation(INSTALLATION) is forge  # one cached client per installation
        for _ in range(3):
            assert forge.default_branch(REPO) == "main"
        assert len(app_standin.issued_tokens) == 1
        minted = app_standin.requests_to("POST", r"/app/installations/77/access_tokens")
        assert minted[0].headers["authorization"].startswith("Bearer ")
        assert app_standin.requests[-1].headers["authorization"] == f"token {app_standin.issued_tokens[0]}"
        assert factory.installation_id_for(REPO) == INSTALLATION
        assert factory.installation_repositories(INSTALLATION) == (REPO,)
    finally:
        factory.close()


def test_installation_tokens_are_refreshed_before_they_expire(
    app_standin: GitHubStandIn, app_key: tuple[str, str]
) -> None:
    # PyGithub refreshes a token 20 s before its expiry: a 10 s lifetime is always "about to expire".
    app_standin.installation_token_lifetime = 10
    factory = app_factory(app_standin, app_key[0])
    try:
        forge = factory.for_installation(INSTALLATION)
        forge.default_branch(REPO)
        forge.default_branch(REPO)
        assert len(app_standin.issued_tokens) == 2
        used = [r.headers["authorization"] for r in app_standin.requests_to("GET", r"^/repos/acme/gitops$")]
        assert used == [f"token {token}" for token in app_standin.issued_tokens]
    finally:
        factory.close()


def test_an_installation_cannot_reach_other_repositories(
    app_standin: GitHubStandIn, app_key: tuple[str, str]
) -> None:
    app_standin.create_repo("other/secret", {"a": "b"})
    factory = app_factory(app_standin, app_key[0])
    try:
        with pytest.raises(ForgeNotFound):
            factory.for_installation(INSTALLATION).default_branch("other/secret")
    finally:
        factory.close()


def test_a_wrong_app_key_is_an_auth_error(app_standin: GitHubStandIn) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    factory = app_factory(app_standin, pem)
    try:
        with pytest.raises(ForgeAuthError):
            factory.for_installation(INSTALLATION).default_branch(REPO)
    finally:
        factory.close()


def test_the_private_key_may_be_a_path(
    app_standin: GitHubStandIn, app_key: tuple[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_key[0])
    factory = app_factory(app_standin, str(key_file))
    try:
        assert factory.for_installation(INSTALLATION).default_branch(REPO) == "main"
        with pytest.raises(ValueError, match="installation id"):
            factory.for_installation(None)
    finally:
        factory.close()


def test_a_bad_token_is_an_auth_error(standin: GitHubStandIn) -> None:
    factory = fast_factory(standin, token="ghp_wrong")
    with pytest.raises(ForgeAuthError, match="Bad credentials"):
        factory.for_installation().default_branch(REPO)


def test_5xx_answers_are_retried(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.fail_next(2, status=502, message="Server Error")
    assert forge.default_branch(REPO) == "main"
    assert [r.status for r in standin.requests] == [502, 502, 200]


def test_persistent_5xx_gives_up_as_unavailable(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.fail_next(10, status=503, message="Service Unavailable")
    with pytest.raises(ForgeUnavailable):
        forge.default_branch(REPO)
    assert len(standin.requests) == 4  # the first try and three retries


def test_429_with_retry_after_is_honoured(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.rate_limit_next(1, retry_after=1)
    started = time.monotonic()
    assert forge.default_branch(REPO) == "main"
    assert time.monotonic() - started >= 0.9
    assert [r.status for r in standin.requests] == [429, 200]


def test_429_without_retry_after_backs_off_and_retries(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.rate_limit_next(2)
    assert forge.default_branch(REPO) == "main"
    assert [r.status for r in standin.requests] == [429, 429, 200]


def test_429_backoff_is_bounded(standin: GitHubStandIn) -> None:
    # secondary_rate_wait 0.05 s doubling: 0.05, 0.1, 0.2 ... over max_retry_wait 0.15 s stops.
    factory = fast_factory(standin, max_retry_wait=0.15, retries=10)
    standin.rate_limit_next(10)
    with pytest.raises(ForgeRateLimited) as raised:
        factory.for_installation().default_branch(REPO)
    assert raised.value.retry_after == pytest.approx(0.2)
    assert [r.status for r in standin.requests] == [429, 429, 429]


def test_a_retry_after_longer_than_allowed_is_not_waited_for(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    standin.rate_limit_next(1, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(ForgeRateLimited) as raised:
        forge.default_branch(REPO)
    assert time.monotonic() - started < 2
    assert raised.value.retry_after == 3600
    assert len(standin.requests) == 1


def test_secondary_rate_limit_403_is_retried(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.secondary_rate_limit_next(1)
    standin.secondary_rate_limit_next(1, retry_after=1)
    assert forge.default_branch(REPO) == "main"
    assert [r.status for r in standin.requests] == [403, 403, 200]


def test_a_plain_403_is_not_retried(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.fail_next(1, status=403, message="Resource not accessible by integration")
    with pytest.raises(ForgeAuthError, match="not accessible"):
        forge.default_branch(REPO)
    assert len(standin.requests) == 1


def test_writes_are_throttled_as_configured(standin: GitHubStandIn) -> None:
    standin.commit(REPO, "b", {"x": "y"})
    number = standin.open_pull_request(REPO, head="b")
    factory = fast_factory(standin, seconds_between_writes=0.3)
    forge = factory.for_installation()
    started = time.monotonic()
    forge.create_comment(REPO, number, "one")
    forge.create_comment(REPO, number, "two")
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": None}, "no GitHub credentials"),
        ({"app_id": 1}, "not both"),
        ({"token": None, "app_id": 1}, "needs both"),
        ({"api_url": "ftp://example.com"}, "http"),
        ({"timeout": 0}, "timeout"),
        ({"token": None, "app_id": 1, "private_key": "/no/such/file.pem"}, "neither PEM text"),
    ],
)
def test_factory_rejects_bad_configuration(
    standin: GitHubStandIn, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fast_factory(standin, **kwargs)
