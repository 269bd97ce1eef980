"""The extra-argument allowlist, var-file paths and workspace names (shared by the parser and the runner)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.terraform_cli import (
    ExtraArgsRefused,
    build_environment,
    check_extra_args,
    is_valid_workspace,
    var_file_problem,
)


@pytest.mark.parametrize(
    ("args", "normalised"),
    [
        (["-target=module.a", "-replace", "aws_instance.b"], ("-target=module.a", "-replace=aws_instance.b")),
        (["-var", "x=1", "--var=y=two words"], ("-var=x=1", "-var=y=two words")),
        (
            ["-var-file=env/prod.tfvars", "-var-file", "a.tfvars"],
            ("-var-file=env/prod.tfvars", "-var-file=a.tfvars"),
        ),
        (
            ["-destroy", "--refresh-only", "-compact-warnings", "-no-color"],
            ("-destroy", "-refresh-only", "-compact-warnings", "-no-color"),
        ),
        (
            ["-refresh=false", "-lock=false", "-lock-timeout=5m", "-parallelism", "20"],
            ("-refresh=false", "-lock=false", "-lock-timeout=5m", "-parallelism=20"),
        ),
        ([], ()),
    ],
)
def test_allowed_extra_args_are_normalised_to_one_word_each(
    args: list[str], normalised: tuple[str, ...]
) -> None:
    assert check_extra_args(args) == normalised


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (["-chdir=/"], "-chdir=/"),
        (["--chdir", "/"], "--chdir"),
        (["-plugin-dir=/x"], "-plugin-dir=/x"),
        (["-out=x.tfplan"], "-out=x.tfplan"),
        (["-state=x"], "-state=x"),
        (["-state-out=x"], "-state-out=x"),
        (["-backup=x"], "-backup=x"),
        (["-var-file=/etc/passwd"], "-var-file=/etc/passwd"),
        (["-var-file", "../../../etc/passwd"], "-var-file ../../../etc/passwd"),
        (["-var-file=a/../../b"], "-var-file=a/../../b"),
        (["-generate-config-out=g.tf"], "-generate-config-out=g.tf"),
        (["-input=true"], "-input=true"),
        (["-json"], "-json"),
        (["x=-chdir"], "x=-chdir"),
        (["-var", "x=1", "--"], "--"),
        (["---target=a"], "---target=a"),
        (["-refresh=true"], "-refresh=true"),
        (["-lock"], "-lock"),
        (["-parallelism=1000"], "-parallelism=1000"),
        (["-lock-timeout=1d"], "-lock-timeout=1d"),
        (["-target"], "-target"),
    ],
)
def test_everything_else_is_refused_with_the_allowlist(args: list[str], refused: str) -> None:
    result = check_extra_args(args)
    assert isinstance(result, ExtraArgsRefused)
    assert result.arg == refused
    assert result.message.startswith(f"the terraform argument `{refused}` is not allowed")
    assert "-var-file=FILE (inside the project directory)" in result.message


def test_var_file_must_resolve_inside_the_project_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "prod.tfvars").write_text('x = "1"\n')
    (tmp_path / "outside.tfvars").write_text('x = "secret"\n')
    (project / "link.tfvars").symlink_to(tmp_path / "outside.tfvars")
    (project / "inner").symlink_to(project)
    (project / "up").symlink_to(tmp_path)
    assert var_file_problem(project, "prod.tfvars") is None
    assert var_file_problem(project, "inner/prod.tfvars") is None
    assert "outside the project directory" in (var_file_problem(project, "link.tfvars") or "")
    assert "outside the project directory" in (var_file_problem(project, "up/outside.tfvars") or "")
    assert "does not exist" in (var_file_problem(project, "missing.tfvars") or "")
    assert "relative path" in (var_file_problem(project, "/etc/passwd") or "")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("default", True),
        ("staging", True),
        ("prod-eu_1.a", True),
        ("a@b:c=d+e&f~g", True),
        ("", False),
        ("..", False),
        ("a..b", False),
        ("a/b", False),
        ("a\\b", False),
        ("-x", False),
        ("~x", False),
        ("$x", False),
        ("a b", False),
        ("a\nb", False),
        ("a%2fb", False),
        ("caf\u00e9", False),
    ],
)
def test_workspace_names(name: str, valid: bool) -> None:
    assert is_valid_workspace(name) is valid


def test_environment_is_built_not_inherited() -> None:
    source = {
        "PATH": "/bin",
        "HOME": "/home/bot",
        "LC_ALL": "C.UTF-8",
        "TF_CLI_CONFIG_FILE": "/etc/tf.rc",
        "TF_TOKEN_app_terraform_io": "tok",
        "GITOPS_BOT_GITHUB_TOKEN": "secret",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "TF_WORKSPACE": "prod",
        "TF_CLI_ARGS_plan": "-destroy",
        "TF_INPUT": "1",
    }
    env = build_environment(source, extra={"AWS_PROFILE": "deploy"})
    assert env == {
        "PATH": "/bin",
        "HOME": "/home/bot",
        "LC_ALL": "C.UTF-8",
        "TF_CLI_CONFIG_FILE": "/etc/tf.rc",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "AWS_PROFILE": "deploy",
    }


def test_operators_can_pass_more_variables_but_never_tf_workspace() -> None:
    env = build_environment({"AWS_REGION": "eu-west-1", "TF_WORKSPACE": "x"}, inherit=("AWS_*", "TF_*"))
    assert env["AWS_REGION"] == "eu-west-1" and "TF_WORKSPACE" not in env
