"""PR comment grammar, case by case; most cases come from Atlantis's comment_parser_test.go."""

from __future__ import annotations

import pytest

from bot.adapters.terraform_cli.safety import ALLOWED_EXTRA_ARGS
from bot.commands import Command, DidYouMean, NotForUs, Usage, parse_comment

BOT = "gitops-bot"
ABSOLUTE = "with -d/--dir is not allowed; give a path relative to the repository root"


def command(name: str = "plan", **fields: object) -> Command:
    values: dict[str, object] = {
        "name": name,
        "project": None,
        "dir": None,
        "workspace": None,
        "verbose": False,
        "extra_args": (),
        "via": "atlantis",
        "deployment": None,
    }
    values.update(fields)
    return Command(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "a",
        "abc",
        "This shouldn't error, but it does.",
        "atlantis plan\nbut with newlines",
        "/gitops plan\nbut with newlines",
        "terraform plan\nbut with newlines",
        "LGTM, /gitops plan when ready",
        "run plan",  # Atlantis's legacy alias is not ours
        "gitops-bot plan",  # the login without '@'
        "@someone-else plan",
        "terraform is great",  # prose starting with a trigger word
        "Atlantis is down again",
        "/gitops plan\r\nsecond line",
    ],
)
def test_not_for_us(body: str) -> None:
    assert isinstance(parse_comment(body, vcs_user=BOT), NotForUs)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("atlantis plan", command()),
        ("/gitops plan", command(via="gitops")),
        ("@gitops-bot plan", command(via="gitops")),
        ("@GitOps-Bot plan", command(via="gitops")),  # logins are case-insensitive
        ("atlantis apply", command("apply")),
        ("atlantis unlock", command("unlock")),
        ("atlantis approve_policies", command("approve_policies")),
        ("/gitops approve_policies", command("approve_policies", via="gitops")),
        ("atlantis cancel", command("cancel")),
        ("/gitops cancel", command("cancel", via="gitops")),
        ("@gitops-bot cancel", command("cancel", via="gitops")),
        ("/gitops cancel\n\n", command("cancel", via="gitops")),
        ("/gitops status", command("status", via="gitops")),
        ("/gitops rollback", command("rollback", via="gitops")),
        (
            "/gitops rollback chat-llm-staging",
            command("rollback", via="gitops", deployment="chat-llm-staging"),
        ),
        ("/gitops promote chat-llm", command("promote", via="gitops", deployment="chat-llm")),
        # Copy-pasting a GitHub comment adds trailing (and leading) blank lines: still a command.
        ("atlantis plan\n", command()),
        ("atlantis plan\n\n", command()),
        ("atlantis plan\r\n\r\n", command()),
        ("\natlantis plan", command()),
        ("\r\natlantis plan\r\n", command()),
        # Flags, short and long.
        ("atlantis plan -w workspace", command(workspace="workspace")),
        ("atlantis plan -d dir", command(dir="dir")),
        ("atlantis plan -p project", command(project="project")),
        ("atlantis plan --verbose", command(verbose=True)),
        ("atlantis plan --workspace workspace", command(workspace="workspace")),
        ("atlantis plan --dir dir", command(dir="dir")),
        ("atlantis plan --project project", command(project="project")),
        ("atlantis plan --project=project", command(project="project")),
        ("atlantis plan -pproject", command(project="project")),
        ("atlantis plan -p=project", command(project="project")),
        ("atlantis plan --verbose=false", command()),
        (
            "atlantis apply -w workspace -d dir --verbose",
            command("apply", workspace="workspace", dir="dir", verbose=True),
        ),
        (
            "atlantis plan --verbose -w workspace -d dir",
            command(workspace="workspace", dir="dir", verbose=True),
        ),
        ("atlantis plan -p project --verbose", command(project="project", verbose=True)),
        # Empty values count as not given (Atlantis's edge case).
        ('atlantis plan -p "" -d dir', command(dir="dir")),
        # Flags after -- belong to Terraform (allowlisted, normalised to one word each).
        (
            "atlantis plan -w workspace -d dir -- --no-color",
            command(workspace="workspace", dir="dir", extra_args=("-no-color",)),
        ),
        (
            "atlantis plan -w workspace -- -target module.a --destroy",
            command(workspace="workspace", extra_args=("-target=module.a", "-destroy")),
        ),
        ("atlantis plan --", command()),
        (
            "atlantis plan -w workspace -d dir --verbose -- -refresh=false -lock=false -lock-timeout 30s",
            command(
                workspace="workspace",
                dir="dir",
                verbose=True,
                extra_args=("-refresh=false", "-lock=false", "-lock-timeout=30s"),
            ),
        ),
        (
            "atlantis plan\t-w\tworkspace\t-d\tdir\t--verbose\t--\t-replace\taws_instance.a",
            command(workspace="workspace", dir="dir", verbose=True, extra_args=("-replace=aws_instance.a",)),
        ),
        (
            "atlantis plan   -w   workspace   -d   dir   --   -var   x=1",
            command(workspace="workspace", dir="dir", extra_args=("-var=x=1",)),
        ),
        (
            "/gitops plan -- -var 'name=two words' -refresh-only -compact-warnings",
            command(via="gitops", extra_args=("-var=name=two words", "-refresh-only", "-compact-warnings")),
        ),
        (
            "/gitops plan -- -target=module.a -var-file=staging.tfvars",
            command(via="gitops", extra_args=("-target=module.a", "-var-file=staging.tfvars")),
        ),
        ("/gitops apply -- -parallelism=2", command("apply", via="gitops", extra_args=("-parallelism=2",))),
        # -d is normalised relative to the repository root.
        ("atlantis plan -d .", command(dir=".")),
        ("atlantis plan -d ./", command(dir=".")),
        ("atlantis plan -d ./adir", command(dir="adir")),
        ("atlantis plan -d a/b/../c", command(dir="a/c")),
        ("atlantis plan -d ..foo", command(dir="..foo")),
        ('atlantis plan -d "dir with space"', command(dir="dir with space")),
        # Workspaces: Terraform's character set.
        ("atlantis plan -w staging-eu_1.a", command(workspace="staging-eu_1.a")),
        ("atlantis plan -w team@prod:1", command(workspace="team@prod:1")),
        ("atlantis plan -w a~b", command(workspace="a~b")),
        # A non-breaking space from a pasted page separates words like a space.
        ("atlantis\u00a0plan\u00a0-d\u00a0dir", command(dir="dir")),
    ],
)
def test_commands(body: str, expected: Command) -> None:
    assert parse_comment(body, vcs_user=BOT) == expected


@pytest.mark.parametrize(
    "body",
    [
        "atlantis",
        "/gitops",
        "@gitops-bot",
        "atlantis help",
        "atlantis --help",
        "atlantis -h",
        "atlantis help something else",
        "atlantis help plan",
        "/gitops help",
    ],
)
def test_help(body: str) -> None:
    result = parse_comment(body, vcs_user=BOT)
    assert isinstance(result, Usage)
    assert (result.kind, result.command) == ("help", None)


@pytest.mark.parametrize(
    ("body", "command_name"),
    [
        ("atlantis plan -h", "plan"),
        ("atlantis plan --help", "plan"),
        ("atlantis apply -h", "apply"),
        ("/gitops apply --help", "apply"),
        ("/gitops unlock --help", "unlock"),
        ("/gitops approve_policies --help", "approve_policies"),
        ("/gitops cancel --help", "cancel"),
        ("atlantis cancel -h", "cancel"),
        ("/gitops status -h", "status"),
    ],
)
def test_command_help(body: str, command_name: str) -> None:
    assert parse_comment(body, vcs_user=BOT) == Usage(
        "command_help", "", command_name, body.split()[0] if body.startswith("atlantis") else "/gitops"
    )


@pytest.mark.parametrize(
    ("body", "given", "suggestion"),
    [
        ("terraform", "terraform", "/gitops"),
        ("terraform help", "terraform", "/gitops"),
        ("terraform --help", "terraform", "/gitops"),
        ("terraform -h", "terraform", "/gitops"),
        ("terraform plan", "terraform", "/gitops"),
        ("terraform apply", "terraform", "/gitops"),
        ("terraform plan -w workspace -d . -- test", "terraform", "/gitops"),
        ("gitops plan", "gitops", "/gitops"),
        ("/gitop plan", "/gitop", "/gitops"),
        ("/GitOps apply", "/GitOps", "/gitops"),
        ("atlantsi plan", "atlantsi", "atlantis"),
        ("atlantsi cancel", "atlantsi", "atlantis"),
        ("terraform cancel", "terraform", "/gitops"),
        ("Atlantis plan", "Atlantis", "atlantis"),
        ("atlantis2 apply", "atlantis2", "atlantis"),
    ],
)
def test_did_you_mean(body: str, given: str, suggestion: str) -> None:
    result = parse_comment(body, vcs_user=BOT)
    assert isinstance(result, DidYouMean)
    assert (result.given, result.suggestion) == (given, suggestion)
    assert f"`{suggestion}`" in result.message and f"`{given}`" in result.message


ERRORS = [
    # Unknown commands (Atlantis: "atlantis paln", "atlantis Plan", "atlantis appely apply").
    ("atlantis paln", None, 'unknown command "paln"'),
    ("atlantis Plan", None, 'unknown command "Plan"'),
    ("atlantis appely apply", None, 'unknown command "appely"'),
    ("/gitops deploy chat 1.2.3", None, 'unknown command "deploy"'),  # a Slack-only command
    ("/gitops version", None, 'unknown command "version"'),
    # Unknown flags.
    ("atlantis plan -e", "plan", "unknown shorthand flag: 'e' in -e"),
    ("atlantis plan --abc", "plan", "unknown flag: --abc"),
    ("atlantis apply -e", "apply", "unknown shorthand flag: 'e' in -e"),
    ("atlantis apply --abc", "apply", "unknown flag: --abc"),
    ("atlantis plan -v", "plan", "unknown shorthand flag: 'v' in -v"),
    ("atlantis plan ---x", "plan", "bad flag syntax: ---x"),
    ("atlantis unlock -d .", "unlock", "unknown shorthand flag: 'd' in -d"),
    ("/gitops status --verbose", "status", "unknown flag: --verbose"),
    (
        "atlantis plan --verbose=maybe",
        "plan",
        'invalid argument "maybe" for "--verbose" flag: expected true or false',
    ),
    # Flags missing their value.
    ("atlantis plan -d", "plan", "flag needs an argument: 'd' in -d"),
    ("atlantis plan --workspace", "plan", "flag needs an argument: --workspace"),
    # Stray arguments (Atlantis's TestParse_UnusedArguments).
    ("atlantis plan -d . arg", "plan", "unknown argument(s) \N{EN DASH} arg"),
    ("atlantis plan arg -d .", "plan", "unknown argument(s) \N{EN DASH} arg"),
    ("atlantis plan arg arg2", "plan", "unknown argument(s) \N{EN DASH} arg arg2"),
    ("atlantis plan -d . arg -w kjj arg2", "plan", "unknown argument(s) \N{EN DASH} arg arg2"),
    ("atlantis apply arg arg2 -- useful", "apply", "unknown argument(s) \N{EN DASH} arg arg2"),
    ("atlantis apply arg arg2 --", "apply", "unknown argument(s) \N{EN DASH} arg arg2"),
    ("atlantis plan --verbose false", "plan", "unknown argument(s) \N{EN DASH} false"),
    ("atlantis unlock now", "unlock", "unknown argument(s) \N{EN DASH} now"),
    ("/gitops approve_policies now", "approve_policies", "unknown argument(s) \N{EN DASH} now"),
    ("/gitops approve_policies -p staging", "approve_policies", "unknown shorthand flag: 'p' in -p"),
    # cancel stops all of the pull request's Terraform work: it takes nothing (as Atlantis's).
    ("/gitops cancel -p staging", "cancel", "unknown shorthand flag: 'p' in -p"),
    ("atlantis cancel --dir .", "cancel", "unknown flag: --dir"),
    ("/gitops cancel now", "cancel", "unknown argument(s) \N{EN DASH} now"),
    ("/gitops Cancel", None, 'unknown command "Cancel"'),
    ("/gitops rollback a b", "rollback", "unknown argument(s) \N{EN DASH} b"),
    ("/gitops rollback 'bad name'", "rollback", 'invalid deployment name "bad name"'),
    # -p with -d or -w.
    (
        "atlantis plan -w workspace -p project",
        "plan",
        "cannot use -p/--project at same time as -d/--dir or -w/--workspace",
    ),
    (
        "atlantis plan -d dir -p project",
        "plan",
        "cannot use -p/--project at same time as -d/--dir or -w/--workspace",
    ),
    (
        "atlantis apply -d dir -w ws -p project",
        "apply",
        "cannot use -p/--project at same time as -d/--dir or -w/--workspace",
    ),
    # -d escaping the repository.
    ("atlantis plan -d ..", "plan", 'using a relative path ".." with -d/--dir is not allowed'),
    ("atlantis apply -d ..", "apply", 'using a relative path ".." with -d/--dir is not allowed'),
    ("atlantis plan -d ./..", "plan", 'using a relative path "./.." with -d/--dir is not allowed'),
    (
        "atlantis plan -d a/b/../../..",
        "plan",
        'using a relative path "a/b/../../.." with -d/--dir is not allowed',
    ),
    ("atlantis apply -d a/../..", "apply", 'using a relative path "a/../.." with -d/--dir is not allowed'),
    ("atlantis plan -d ../../etc", "plan", 'using a relative path "../../etc" with -d/--dir is not allowed'),
    (
        "atlantis plan -d /",
        "plan",
        f'using an absolute path "/" {ABSOLUTE}',
    ),
    (
        "atlantis plan -d /etc",
        "plan",
        f'using an absolute path "/etc" {ABSOLUTE}',
    ),
    (
        "atlantis plan -d //srv/x",
        "plan",
        f'using an absolute path "//srv/x" {ABSOLUTE}',
    ),
    ("atlantis plan -d 'a\tb'", "plan", 'invalid directory "a\tb": control characters are not allowed'),
    # Workspace names (Atlantis's TestParse_InvalidWorkspace plus ours).
    ("atlantis plan -w ..", "plan", 'invalid workspace: ".."'),
    ("atlantis apply -w ..", "apply", 'invalid workspace: ".."'),
    ("atlantis plan -w /", "plan", 'invalid workspace: "/"'),
    ("atlantis plan -w ..abc", "plan", 'invalid workspace: "..abc"'),
    ("atlantis apply -w abc..", "apply", 'invalid workspace: "abc.."'),
    ("atlantis plan -w abc..abc", "plan", 'invalid workspace: "abc..abc"'),
    ("atlantis apply -w ../../../etc/passwd", "apply", 'invalid workspace: "../../../etc/passwd"'),
    ("atlantis plan -w a/b", "plan", 'invalid workspace: "a/b"'),
    ("atlantis plan -w 'a\\b'", "plan", 'invalid workspace: "a\\\\b"'),
    ("atlantis plan -w=-rf", "plan", 'invalid workspace: "-rf"'),
    ("atlantis plan -w ~root", "plan", 'invalid workspace: "~root"'),
    ("atlantis plan -w '$HOME'", "plan", 'invalid workspace: "$HOME"'),
    ("atlantis plan -w 'two words'", "plan", 'invalid workspace: "two words"'),
    ("atlantis plan -w 'tab\there'", "plan", 'invalid workspace: "tab\there"'),
    ("atlantis plan -w 'bell\x07'", "plan", 'invalid workspace: "bell\x07"'),
    ("atlantis plan -w 'caf\u00e9'", "plan", 'invalid workspace: "caf\u00e9"'),
    ("atlantis plan -w 'a;b'", "plan", 'invalid workspace: "a;b"'),
    (
        "/gitops unlock -- -x",
        "unlock",
        "extra arguments after -- are only passed to terraform by plan and apply, not unlock",
    ),
    (
        "/gitops cancel -- -x",
        "cancel",
        "extra arguments after -- are only passed to terraform by plan and apply, not cancel",
    ),
    (
        "/gitops status -- -x",
        "status",
        "extra arguments after -- are only passed to terraform by plan and apply, not status",
    ),
    # Atlantis's automerge flags: nothing to disable here.
    (
        "atlantis apply --auto-merge-disabled",
        "apply",
        "--auto-merge-disabled is not supported: the bot does not merge pull requests after apply",
    ),
    (
        "atlantis apply --auto-merge-method=squash",
        "apply",
        "--auto-merge-method is not supported: the bot does not merge pull requests after apply",
    ),
    # Shell-like quoting.
    ("atlantis plan -d 'unbalanced", None, "could not parse the command: no closing quotation"),
    ('/gitops plan -- -var "x=1', None, "could not parse the command: no closing quotation"),
    ("/gitops plan -- -var x=\\", None, "could not parse the command: no escaped character"),
]


# Extra arguments are an allowlist: everything else is refused, with the list of what may pass.
EXTRA_ARG_REFUSALS = [
    (
        "/gitops plan -- -chdir=/",
        "plan",
        "the terraform argument `-chdir=/` is not allowed (not on the allowlist)",
    ),
    ("/gitops plan -- --chdir=/", "plan", "the terraform argument `--chdir=/` is not allowed"),
    ("/gitops plan -- -chdir /", "plan", "the terraform argument `-chdir` is not allowed"),
    ("/gitops plan -- -var x=1 -plugin-dir=/tmp", "plan", "`-plugin-dir=/tmp` is not allowed"),
    ("/gitops plan -- --plugin-dir /tmp", "plan", "`--plugin-dir` is not allowed"),
    ("/gitops plan -- -out=other.tfplan", "plan", "`-out=other.tfplan` is not allowed"),
    ("/gitops apply -- -state-out=x", "apply", "`-state-out=x` is not allowed"),
    ("/gitops apply -- -backup=x", "apply", "`-backup=x` is not allowed"),
    ("/gitops plan -- -state=x", "plan", "`-state=x` is not allowed"),
    ("/gitops plan -- -var-file=/etc/passwd", "plan", "a relative path inside the project directory"),
    (
        "/gitops plan -- -var-file ../../secrets.tfvars",
        "plan",
        "the file must be inside the project directory",
    ),
    ("/gitops plan -- -var-file=~/x.tfvars", "plan", "a relative path inside the project directory"),
    ("/gitops plan -- -generate-config-out=x.tf", "plan", "`-generate-config-out=x.tf` is not allowed"),
    ("/gitops plan -- -input=true", "plan", "`-input=true` is not allowed"),
    ("/gitops plan -- arg", "plan", "`arg` is not allowed (only flags are passed to terraform)"),
    ("/gitops plan -- -refresh=true", "plan", "only -refresh=false is accepted"),
    ("/gitops plan -- -lock", "plan", "only -lock=false is accepted"),
    ("/gitops plan -- -parallelism=0", "plan", "a number from 1 to 256"),
    ("/gitops plan -- -parallelism=" + "9" * 5000, "plan", "a number from 1 to 256"),
    ("/gitops plan -- -lock-timeout=forever", "plan", "a duration such as 30s"),
    ("/gitops plan -- -var novalue", "plan", "it needs NAME=VALUE"),
    ("/gitops plan -- -target", "plan", "its value is missing"),
    ("/gitops plan -- -destroy=yes", "plan", "it takes no value"),
]


@pytest.mark.parametrize(("body", "command_name", "reason"), EXTRA_ARG_REFUSALS)
def test_extra_args_outside_the_allowlist_are_refused_with_the_list(
    body: str, command_name: str, reason: str
) -> None:
    result = parse_comment(body, vcs_user=BOT)
    assert isinstance(result, Usage), result
    assert (result.kind, result.command) == ("error", command_name)
    assert reason in result.message
    assert result.message.endswith(", ".join(ALLOWED_EXTRA_ARGS))


@pytest.mark.parametrize(("body", "command_name", "message"), ERRORS)
def test_errors(body: str, command_name: str | None, message: str) -> None:
    result = parse_comment(body, vcs_user=BOT)
    assert isinstance(result, Usage), result
    assert (result.kind, result.command, result.message) == ("error", command_name, message)


@pytest.mark.parametrize(
    ("body", "executable"),
    [("atlantis paln", "atlantis"), ("/gitops paln", "/gitops"), ("@gitops-bot paln", "/gitops")],
)
def test_replies_use_the_executable_the_user_typed(body: str, executable: str) -> None:
    result = parse_comment(body, vcs_user=BOT)
    assert isinstance(result, Usage) and result.executable == executable


def test_without_a_bot_login_mentions_are_not_commands() -> None:
    assert isinstance(parse_comment("@gitops-bot plan"), NotForUs)
    assert isinstance(parse_comment("@ plan"), NotForUs)


def test_last_flag_wins_like_pflag() -> None:
    assert parse_comment("atlantis plan -d a -d b") == command(dir="b")


def test_extra_args_are_single_words_never_shell() -> None:
    result = parse_comment("/gitops plan -- -var 'x=$(rm -rf /); echo'")
    assert isinstance(result, Command)
    assert result.extra_args == ("-var=x=$(rm -rf /); echo",)
