"""Tokens over smart HTTP: given to git by the askpass helper, never stored, never shown."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from bot.adapters.git import GitError, GitWorkspaces, RemoteRepo
from tests.integration.adapters.git.conftest import BOT, Upstream, run_git
from tests.integration.adapters.git.smart_http import smart_http_server

pytestmark = pytest.mark.integration

# Deliberately not shaped like a GitHub token: redaction must work from the secret itself.
TOKEN = "s3cret-token-for-tests-0123456789"


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


def test_clone_fetch_and_push_over_http_with_a_token(upstream: Upstream, tmp_path: Path) -> None:
    asked: list[str] = []

    def token_for(repo: RemoteRepo) -> str:
        asked.append(repo.full_name)
        return TOKEN

    workspaces = GitWorkspaces(tmp_path / "data", identity=BOT, token_provider=token_for, network_timeout=60)
    with smart_http_server(upstream.bare.parent.parent, username="x-access-token", token=TOKEN) as server:
        url = f"{server.base_url}/acme/gitops.git"
        mirror = workspaces.mirror(url)
        upstream.commit({"new.txt": "new\n"}, "new")
        mirror = workspaces.mirror(url)  # fetch
        assert mirror.resolve("main") == upstream.rev("main")
        with workspaces.worktree(url) as tree:
            tree.write_text("apps/chat/values.yaml", "image:\n  tag: 7.0.0\n")
            sha = tree.commit("7.0.0")
            tree.push("gitops-bot/seven")
        assert upstream.rev("gitops-bot/seven") == sha

    assert asked and set(asked) == {"acme/gitops"}
    sent = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert f"Basic {sent}" in server.seen.authorizations  # the askpass helper answered git
    assert any("git-receive-pack" in request for request in server.seen.requests)
    assert run_git("config", "--get", "remote.origin.url", cwd=mirror.path).strip() == url
    assert files_containing(workspaces.data_dir, TOKEN.encode()) == []
    assert files_containing(workspaces.data_dir, sent.encode()) == []


def test_a_wrong_token_fails_fast_without_leaking_or_leaving_a_mirror(
    upstream: Upstream, tmp_path: Path
) -> None:
    wrong = "wrong-token-value-987654321"
    workspaces = GitWorkspaces(tmp_path / "data", identity=BOT, token_provider=lambda repo: wrong)
    with smart_http_server(upstream.bare.parent.parent, username="x-access-token", token=TOKEN) as server:
        url = f"{server.base_url}/acme/gitops.git"
        started = time.monotonic()
        with pytest.raises(GitError) as caught:
            workspaces.mirror(url)
        assert time.monotonic() - started < 30  # no prompt, no hang

    error = caught.value
    assert "Authentication failed" in error.stderr
    assert wrong not in str(error) and wrong not in error.stderr
    assert not workspaces.mirror_path(url).exists()
    assert not any(workspaces.mirror_path(url).parent.glob(".gitops.git.clone-*"))  # no half clone left
    assert files_containing(workspaces.data_dir, wrong.encode()) == []


def test_no_token_means_no_prompt(upstream: Upstream, tmp_path: Path) -> None:
    workspaces = GitWorkspaces(tmp_path / "data", identity=BOT)
    with smart_http_server(upstream.bare.parent.parent, username="x-access-token", token=TOKEN) as server:
        with pytest.raises(GitError, match=r"terminal prompts disabled|Authentication failed"):
            workspaces.mirror(f"{server.base_url}/acme/gitops.git")
        assert server.seen.authorizations == []
