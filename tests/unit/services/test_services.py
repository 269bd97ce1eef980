"""Service wiring that needs no network: clone URLs, the dry-run guard, lazy adapters."""

from __future__ import annotations

import pytest

from bot.routing import Router
from bot.services import DryRunViolation, _ReadOnlyForge, build_services
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


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def read_file(self, repo: str, path: str, ref: str) -> bytes:
        self.calls.append("read_file")
        return b"x"

    def create_comment(self, repo: str, number: int, body: str) -> None:
        self.calls.append("create_comment")


def test_dry_run_forge_reads_but_refuses_writes() -> None:
    inner = _Recorder()
    forge = _ReadOnlyForge(inner)
    assert forge.read_file("a/b", "f", "main") == b"x"
    with pytest.raises(DryRunViolation, match="create_comment"):
        forge.create_comment("a/b", 1, "hi")
    assert inner.calls == ["read_file"]


def test_dry_run_without_credentials_and_no_kubernetes_gate(tmp_path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/db.sqlite")
    services = build_services(settings, Router())
    try:
        assert services.dry_run
        assert services.kubernetes() is None
        assert services.forge(None).__class__.__name__ == "_ReadOnlyForge"
    finally:
        services.close()
