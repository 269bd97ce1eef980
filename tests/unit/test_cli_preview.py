"""`gitops-bot preview` on a real git checkout of the example GitOps repository.

Most cases call the CLI's ``main``; the console script itself runs once per exit code class, as a
user runs it. Every case also checks that the checkout is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.requirements import require

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "gitops-repo"
DIGEST = "sha256:" + "a" * 64
CHAT = "registry.example.com/serving/chat-llm"


def git(checkout: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(checkout), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    require(shutil.which("git") is not None, "the git binary")
    directory = tmp_path / "gitops"
    shutil.copytree(EXAMPLE, directory)
    git(directory, "init", "--quiet", "--initial-branch=main")
    git(directory, "add", "--all")
    git(directory, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "init")
    return directory


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (git's own included) → its content hash."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def preview(checkout: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    before = snapshot(checkout)
    code = main(["preview", "--repo", str(checkout), *args])
    out, err = capsys.readouterr()
    assert snapshot(checkout) == before, "preview wrote to the checkout"
    return code, out, err


def test_an_image_push_shows_each_pull_request_and_its_diff(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = preview(checkout, capsys, "--image", f"{CHAT}:1.5.0", "--digest", DIGEST)
    assert code == 1 and err == ""
    assert f"Event: registry push {CHAT}:1.5.0@{DIGEST}" in out
    assert 'chat-llm-staging: would open "chat-llm-staging: deploy 1.5.0 (from 1.4.2)"' in out
    assert "on branch gitops-bot/chat-llm-staging/1.5.0" in out
    assert "why: 1.5.0 is newer than 1.4.2 and matches semver:>=1.0.0,<2" in out
    assert "terraform/staging/serving.auto.tfvars (chat_llm_version): 1.4.2 -> 1.5.0" in out
    assert '-  tag: "1.4.2"\n+  tag: "1.5.0"\n' in out
    assert f'+      tag: "1.5.0@{DIGEST}"\n' in out
    assert "2 pull requests would be opened, 0 refused, 0 without change." in out
    assert "none assumed" in out  # quarantine and open pull requests are not known offline
    # The diffs are exact: git applies them to the checkout they were computed from.
    patch = checkout.parent / "preview.patch"
    patch.write_text(out)
    git(checkout, "apply", "--check", str(patch))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # no deployment follows the repository: the reason, and the triggers that exist
        (
            ["--image", "registry.example.com/serving/other:1.5.0"],
            [
                "No pull request: no deployment's trigger matches registry.example.com/serving/other",
                f"chat-llm-staging: image {CHAT}, tags semver:>=1.0.0,<2",
            ],
        ),
        # the policy refuses, and says why
        (
            ["--image", f"{CHAT}:0.9.0", "--digest", DIGEST],
            [
                "chat-llm-staging: refused (no_match): 0.9.0 does not match the tag policy semver:>=1.0.0,<2",
                "0 pull requests would be opened, 2 refused, 0 without change.",
            ],
        ),
        # a target format needing the digest, without one: the bot refuses too
        (["--image", f"{CHAT}:1.5.0"], ["chat-llm-staging: refused (bad_target)"]),
        # a push by digest alone names no version
        (["--image", f"{CHAT}@{DIGEST}"], ["No pull request: a push by digest names no version"]),
        (["--image", CHAT, "--digest", DIGEST], ["a push by digest names no version"]),
        # a model version without the alias the deployment follows
        (["--model", "reranker", "--version", "4"], ["no deployment's trigger matches model reranker"]),
        # the version already deployed
        (
            ["--model", "reranker", "--version", "3.1.0", "--alias", "champion"],
            ["reranker-staging: no change (already_current)"],
        ),
    ],
)
def test_nothing_to_propose_exits_0_and_says_why(
    checkout: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: list[str]
) -> None:
    code, out, err = preview(checkout, capsys, *args)
    assert code == 0 and err == ""
    for text in expected:
        assert text in out
    assert "diff --git" not in out


def test_a_model_alias_proposes_its_version(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = preview(checkout, capsys, "--model", "reranker", "--version", "4", "--alias", "champion")
    assert code == 1
    assert "Event: MLflow alias reranker@champion set to version 4" in out
    assert "reranker-staging: would open" in out
    assert '-  model_version = "3.1.0"' in out and '+  model_version = "4"' in out


def test_the_work_tree_is_read_not_the_last_commit(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = checkout / ".gitops-bot.yaml"
    config.write_text(config.read_text().replace('tags: "semver:^1.2"', 'tags: "semver:~1.3"'))
    code, out, _ = preview(checkout, capsys, "--image", f"{CHAT}:1.5.0", "--digest", DIGEST)
    assert code == 1
    assert "chat-llm-prod: refused (no_match): 1.5.0 does not match the tag policy semver:~1.3" in out


def test_a_target_linked_outside_the_checkout_is_refused(
    checkout: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("containers:\n  - image: {tag: 1.0.0}\n")
    target = checkout / "apps" / "chat-llm" / "values-prod.yaml"
    target.unlink()
    target.symlink_to(outside)
    code, out, _ = preview(checkout, capsys, "--image", f"{CHAT}:1.5.0", "--digest", DIGEST)
    assert code == 1  # staging still would be proposed
    assert "chat-llm-prod: refused (unusable_file)" in out
    assert "leads outside the repository" in out
    assert outside.read_text() == "containers:\n  - image: {tag: 1.0.0}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--image", "Registry.example.com/Serving/x:1"], "--image: 'Registry.example.com/Serving/x:1'"),
        (["--image", f"{CHAT}:1.5.0", "--digest", "md5:1"], "--digest md5:1: not an image digest"),
        (["--image", CHAT], f"--image {CHAT} names no tag"),
        (["--image", f"{CHAT}:1@{DIGEST}", "--digest", "sha256:" + "b" * 64], "--digest says sha256:bbbb"),
        (["--image", f"{CHAT}:1.5.0", "--version", "3"], "use them with --model"),
        (["--model", "reranker"], "--model needs --version"),
        (["--model", "reranker", "--version", "4", "--digest", DIGEST], "use it with --image"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_it(
    checkout: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = preview(checkout, capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("gitops-bot preview: ")
    assert message in err


def test_a_missing_checkout_or_config_exits_2(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", "--repo", str(tmp_path / "nowhere"), "--image", f"{CHAT}:1"]) == 2
    assert "no such directory" in capsys.readouterr().err
    (checkout / ".gitops-bot.yaml").unlink()
    code, out, err = preview(checkout, capsys, "--image", f"{CHAT}:1")
    assert code == 2 and out == ""
    config = checkout / ".gitops-bot.yaml"
    assert (
        err == f"gitops-bot preview: {config}: no such file (is {checkout} a GitOps repository's checkout?)\n"
    )


def test_an_invalid_config_exits_2_naming_each_line(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = checkout / ".gitops-bot.yaml"
    config.write_text(config.read_text().replace("failure_limit: 3", "failure_limit: 0"))
    code, out, err = preview(checkout, capsys, "--image", f"{CHAT}:1.5.0")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2
    assert "/.gitops-bot.yaml:" in lines[0] and "deployments[1].canary.failure_limit" in lines[0]
    assert lines[1] == f"gitops-bot preview: 1 error(s) in {config}"


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("gitops-bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


@pytest.mark.parametrize(
    ("args", "code", "stream", "text"),
    [
        (["--image", f"{CHAT}:1.5.0", "--digest", DIGEST], 1, "stdout", "2 pull requests would be opened"),
        (["--image", f"{CHAT}:0.9.0", "--digest", DIGEST], 0, "stdout", "refused (no_match)"),
        (["--image", "not a reference"], 2, "stderr", "gitops-bot preview: --image:"),
    ],
)
def test_the_console_script(checkout: Path, args: list[str], code: int, stream: str, text: str) -> None:
    done = subprocess.run(
        [*console_script(), "preview", "--repo", str(checkout), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    assert text in getattr(done, stream)
    assert git(checkout, "status", "--porcelain") == ""
