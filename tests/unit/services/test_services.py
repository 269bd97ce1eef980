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
    settings = Settings(_env_file=None, github_api_url=api_url, git_url_template=template)
    assert settings.clone_url("acme/gitops") == expected


def test_dry_run_without_credentials_and_no_kubernetes_gate(tmp_path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/db.sqlite")
    services = build_services(settings)
    try:
        assert services.dry_run
        assert services.kubernetes() is None
        assert isinstance(services.forge(None), DryRunForge)
    finally:
        services.close()
