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
    from bot.adapters.forge.local.forge import LocalForge

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


def test_gitlab_projects_get_the_gitlab_forge_and_github_repositories_the_github_one() -> None:
    from bot.adapters.forge.github import GitHubForge
    from bot.adapters.forge.gitlab import GitLabForge

    settings = Settings(
        _env_file=None,
        github_token="ghp_x",
        gitlab_token="glpat-x",
        gitops_repos="acme/app,gitlab:acme/infra/ops",
    )
    assert settings.gitops_repos == ["acme/app", "gitlab:acme/infra/ops"]
    assert settings.clone_url("gitlab:acme/infra/ops") == "https://gitlab.com/acme/infra/ops.git"
    services = build_services(settings)
    try:
        assert isinstance(services.forge_for_repo("gitlab:acme/infra/ops"), GitLabForge)
        assert isinstance(services.forge_for_repo("acme/app"), GitHubForge)
    finally:
        services.close()


def test_with_gitlab_only_a_name_without_prefix_is_a_gitlab_project() -> None:
    settings = Settings(
        _env_file=None, gitlab_token="glpat-x", gitops_repos="acme/ops", repo_allowlist="acme/*"
    )
    assert settings.effective_forge == "gitlab" and not settings.effective_dry_run
    assert settings.gitops_repos == ["gitlab:acme/ops"] and settings.repo_allowed("gitlab:acme/ops")


def test_a_malformed_gitlab_name_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="gitlab:group/project"):
        Settings(_env_file=None, gitops_repos="gitlab:only-a-group")


def test_git_presents_the_gitlab_token_to_gitlab_and_the_github_token_to_github(tmp_path) -> None:
    from bot.adapters.git import parse_remote

    settings = Settings(
        _env_file=None,
        github_token="ghp_github",
        gitlab_token="glpat-gitlab",
        gitlab_url="https://gitlab.example.com",
        data_dir=tmp_path,
    )
    services = build_services(settings)
    try:
        provider = services.git()._context.token_provider
        assert provider is not None
        assert provider(parse_remote(settings.clone_url("gitlab:platform/sre/gitops"))) == "glpat-gitlab"
        assert provider(parse_remote(settings.clone_url("acme/gitops"))) == "ghp_github"
    finally:
        services.close()


def test_a_self_managed_gitlab_on_another_port_gets_the_gitlab_token(tmp_path) -> None:
    from bot.adapters.git import parse_remote

    settings = Settings(
        _env_file=None,
        github_token="ghp_github",
        gitlab_token="glpat-gitlab",
        gitlab_url="https://gitlab.example.com:8443",
        data_dir=tmp_path,
    )
    services = build_services(settings)
    try:
        provider = services.git()._context.token_provider
        assert provider is not None
        assert provider(parse_remote("https://gitlab.example.com:8443/platform/gitops.git")) == "glpat-gitlab"
    finally:
        services.close()
