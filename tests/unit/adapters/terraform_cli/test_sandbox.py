"""The sandbox's command line and the paths it hides (pure parts; the sandbox itself is tested on bwrap)."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import SecretStr

from bot.adapters.terraform_cli import LocalExecutor, SandboxExecutor
from bot.adapters.terraform_cli.sandbox import ExecutorStatus, SandboxPaths, bwrap_argv, executable_paths
from bot.services import secret_paths
from bot.settings import Settings


def _argv(**paths: tuple[Path, ...]) -> list[str]:
    return bwrap_argv(
        "/usr/bin/bwrap",
        ["/usr/bin/terraform", "plan"],
        {"PATH": "/usr/bin", "TF_IN_AUTOMATION": "1"},
        cwd=Path("/data/git/worktrees/a/project"),
        root=Path("/data/git/worktrees/a"),
        paths=SandboxPaths(**paths),
    )


def test_namespaces_read_only_root_own_proc_and_death_with_the_bot() -> None:
    argv = _argv()
    assert argv[:4] == ["/usr/bin/bwrap", "--ro-bind", "/", "/"]
    for flag in ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--clearenv"):
        assert flag in argv
    assert argv[argv.index("--proc") + 1] == "/proc" and argv[argv.index("--tmpfs") + 1] == "/tmp"
    # No --new-session: it would take Terraform out of the process group its timeout signals.
    assert "--new-session" not in argv
    assert argv[-3:] == ["--", "/usr/bin/terraform", "plan"]
    assert argv[argv.index("--chdir") + 1] == "/data/git/worktrees/a/project"


def test_the_environment_is_only_what_the_runner_built() -> None:
    argv = _argv()
    pairs = [(argv[i + 1], argv[i + 2]) for i, word in enumerate(argv) if word == "--setenv"]
    assert pairs == [("PATH", "/usr/bin"), ("TF_IN_AUTOMATION", "1")]
    assert argv.index("--clearenv") < argv.index("--setenv")


def test_secrets_are_hidden_before_the_work_tree_and_tools_are_bound_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    key = tmp_path / "app.pem"
    key.write_text("key")
    argv = _argv(hidden=(data, key), readonly=(Path("/opt/terraform"),), writable=(Path("/cache"),))
    hide_dir = argv.index(str(data)) - 1
    assert argv[hide_dir] == "--tmpfs"
    assert argv[argv.index(str(key)) - 2 : argv.index(str(key)) + 1] == ["--ro-bind", "/dev/null", str(key)]
    tool = argv.index("/opt/terraform")
    assert argv[tool - 1] == "--ro-bind" and tool > hide_dir
    cache = argv.index("/cache")
    assert argv[cache - 1] == "--bind"
    root = len(argv) - 1 - argv[::-1].index("/data/git/worktrees/a")
    assert argv[root - 2] == "--bind" and root > tool  # the work tree is bound last: writable


def test_a_script_needs_its_interpreter_installation(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "terraform"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nprint('hi')\n")
    paths = executable_paths(script)
    assert script.parent in paths
    assert Path(sys.executable).resolve().parent.parent in paths


def test_without_bubblewrap_terraform_is_refused_with_the_fix() -> None:
    status = SandboxExecutor(bwrap="no-such-bwrap").status()
    assert not status.ok and status.mode == "sandbox"
    assert "bubblewrap (no-such-bwrap) is not installed" in status.detail
    assert "apt-get install bubblewrap" in status.detail
    assert "GITOPS_BOT_TERRAFORM_EXECUTOR=local" in status.detail
    assert status.as_json() == {"mode": "sandbox", "ok": False, "isolated": True, "detail": status.detail}


def test_callers_asking_at_once_share_one_probe() -> None:
    probes: list[int] = []

    class Slow(SandboxExecutor):
        def _probe(self) -> ExecutorStatus:
            probes.append(1)
            time.sleep(0.2)  # a slow machine's first probe, while readiness checks keep coming
            return ExecutorStatus("sandbox", True, "probed")

    executor = Slow()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: executor.status(), range(8)))
    assert probes == [1] and {answer.detail for answer in answers} == {"probed"}


def test_local_says_it_is_not_isolated() -> None:
    status = LocalExecutor().status()
    assert status.ok and status.as_json()["isolated"] is False
    assert "without a sandbox" in status.detail


def test_the_bots_secret_paths(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path}/bot.db",
        github_app_private_key=SecretStr(str(key)),
        kubeconfig=tmp_path / "kubeconfig",
        terraform_sandbox_hide=f"{tmp_path}/secrets,/etc/gitops-bot",
    )
    paths = secret_paths(settings)
    for expected in (
        tmp_path / "data",
        tmp_path / "bot.db",
        tmp_path / "bot.db-wal",
        key,
        tmp_path / "kubeconfig",
        tmp_path / "secrets",
        Path("/etc/gitops-bot"),
        Path(".env").absolute(),
        Path.home(),
    ):
        assert expected in paths
    # A PEM given inline is not a path.
    inline = Settings(_env_file=None, github_app_private_key=SecretStr("-----BEGIN RSA PRIVATE KEY-----\nx"))
    assert not any("BEGIN" in str(path) for path in secret_paths(inline))


def test_the_executor_setting_picks_the_executor() -> None:
    from bot.services import terraform_executor

    assert isinstance(terraform_executor(Settings(_env_file=None)), SandboxExecutor)
    assert isinstance(terraform_executor(Settings(_env_file=None, terraform_executor="local")), LocalExecutor)
