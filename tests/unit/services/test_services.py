"""Service wiring that needs no network: clone URLs, the dry-run guard, lazy adapters.

The dry-run forge itself is tested in tests/unit/adapters/forge/test_dry_run.py.
"""

from __future__ import annotations

import pytest

from bot.adapters.forge.dry_run import DryRunForge
from bot.services import build_services
from bot.settings import Settings


@pytest.mark.parametrize(
    ("api_url", "template", "expected"),
    [
        ("https://api.github.com", None, "https://github.com/acme/gitops.git"),
        ("https://ghe.example.com/api/v3", None, "https://ghe.example.com/acme/gitops.git"),
        ("https://api.github.com", "file:///srv/git/{repo}.git", "file:///srv/git/acme/gitops.git"),
    ],
)
def test_clone_url(api_url: str, template: str | None, expected: str) -> None:
    settings = Settings(_env_file=None, github_api_url=api_url, git_url_template=template, forge="github")
    assert settings.clone_url("acme/gitops") == expected


def test_the_local_forge_clones_from_its_own_directory(tmp_path) -> None:
    settings = Settings(_env_file=None, local_repos_dir=tmp_path / "repos")
    assert settings.effective_forge == "local" and not settings.effective_dry_run
    assert settings.clone_url("acme/gitops") == (tmp_path / "repos" / "acme" / "gitops.git").as_uri()
    assert Settings(_env_file=None, github_token="t").effective_forge == "github"


def test_dry_run_on_github_without_credentials_and_no_kubernetes_gate(tmp_path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/db.sqlite", forge="github")
    services = build_services(settings)
    try:
        assert services.dry_run
        assert services.kubernetes() is None
        assert isinstance(services.forge(None), DryRunForge)
    finally:
        services.close()


def test_the_local_forge_acts_and_dry_run_still_wraps_it(tmp_path) -> None:
    from bot.adapters.forge.local import LocalForge

    base = {"_env_file": None, "database_url": f"sqlite:///{tmp_path}/db.sqlite", "local_repos_dir": tmp_path}
    services = build_services(Settings(**base))
    try:
        assert not services.dry_run and isinstance(services.forge_for_repo("local/gitops"), LocalForge)
    finally:
        services.close()
    dry = build_services(Settings(**base, dry_run=True))
    try:
        assert isinstance(dry.forge_for_repo("local/gitops"), DryRunForge)
    finally:
        dry.close()


def test_gitlab_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="GitLab is not supported yet"):
        Settings(_env_file=None, forge="gitlab")
