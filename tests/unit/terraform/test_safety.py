"""Extra-argument refusals and workspace names, shared by the comment parser and the runner."""

from __future__ import annotations

import pytest

from bot.terraform import build_environment, is_valid_workspace, refused_extra_arg


@pytest.mark.parametrize(
    ("arg", "refused"),
    [
        ("-chdir=/", "chdir"),
        ("--chdir=/", "chdir"),
        ("-chdir", "chdir"),
        ("-plugin-dir=/x", "plugin-dir"),
        ("--plugin-dir", "plugin-dir"),
        ("-out=x.tfplan", "out"),
        ("-state=x", "state"),
        ("-state-out=x", "state-out"),
        ("-backup=x", "backup"),
        ("-var", None),
        ("x=-chdir", None),
        ("-var-file=a.tfvars", None),
        ("-target=module.a", None),
        ("-outx", None),
        ("chdir", None),
    ],
)
def test_refused_extra_args(arg: str, refused: str | None) -> None:
    assert refused_extra_arg(arg) == refused


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
        "TF_TOKEN_app_terraform_io": "tok",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "AWS_PROFILE": "deploy",
    }


def test_operators_can_pass_more_variables_but_never_tf_workspace() -> None:
    env = build_environment({"AWS_REGION": "eu-west-1", "TF_WORKSPACE": "x"}, inherit=("AWS_*", "TF_*"))
    assert env["AWS_REGION"] == "eu-west-1" and "TF_WORKSPACE" not in env
