from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.adapters.terraform_cli import LocalExecutor, SandboxExecutor, StepTimeouts, TerraformRunner
from bot.adapters.terraform_cli.sandbox import Executor
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim, terraform_shim

__all__ = ["terraform_shim"]


def sandbox_executor() -> SandboxExecutor:
    """The default executor; fails under CI=true when bubblewrap cannot make a sandbox here."""
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap), for the Terraform sandbox")
    executor = SandboxExecutor()
    status = executor.status()
    require(status.ok, f"a working bubblewrap sandbox ({status.detail})")
    return executor


@pytest.fixture(params=["local", "sandbox"])
def executor(request: pytest.FixtureRequest) -> Executor:
    """Process control must hold for a plain child process and for one inside the sandbox."""
    return LocalExecutor() if request.param == "local" else sandbox_executor()


# Only the built-in terraform_data resource: init, plan and apply stay offline and fast.
DATA_CONFIG = """
variable "size" {
  type    = string
  default = "small"
}

resource "terraform_data" "model" {
  input = var.size
}

output "size" {
  value = terraform_data.model.output
}
"""


def write_project(directory: Path, config: str = DATA_CONFIG) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(config, encoding="utf-8")
    return directory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


@pytest.fixture
def runner(terraform_shim: TerraformShim) -> TerraformRunner:
    # Generous timeouts: the test machine may be busy; the timeout tests set their own.
    return TerraformRunner(
        "terraform",
        timeouts=StepTimeouts(init=60, workspace=60, plan=60, show=60, apply=60),
        executor=sandbox_executor(),
    )
