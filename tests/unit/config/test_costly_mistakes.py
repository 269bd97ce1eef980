"""`check-config` catches the costly mistakes: PromQL that does not parse, a template variable the bot
never fills, a permission level spelled as a login, a target or project the checkout lacks, a
semver range whose wrong part is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.canary.query_check import query_problem
from bot.cli import main
from bot.config import ConfigInvalid, load_repo_config
from bot.versions import InvalidPolicy, parse_tag_policy

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "gitops-repo"
SELECTOR = 'deployment="{{ deployment }}",version="{{ version }}"'


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"sum(rate(x{{{SELECTOR}}}[{{{{ interval }}}}]))", None),
        (f"histogram_quantile(0.99, sum by (le) (rate(x_bucket{{{SELECTOR}}}[5m])))", None),
        (f"sum by le (rate(x{{{SELECTOR}}}[5m]))", "not valid PromQL"),
        (f"sum(rate(x{{{SELECTOR}}}[5m])", "not valid PromQL"),
        ('sum(x{deployment="{{ deploymnt }}"})', "did you mean {{ deployment }}?"),
        ('sum(x{deployment="{{ deployment }"})', "query template line 1"),
        ("sum(x{deployment={{ deployment }}})", "must be inside a double- or single-quoted PromQL string"),
    ],
    ids=["ok", "ok-by-le", "unbalanced-by", "unclosed", "typo", "broken-template", "unquoted-label"],
)
def test_queries_are_checked_after_rendering(query: str, expected: str | None) -> None:
    problem = query_problem(query)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem, problem


def config(permissions: str = "", query: str = f"sum(x{{{SELECTOR}}})") -> str:
    return f"""\
version: 1
deployments:
  - name: chat
    trigger: {{image: {{repository: registry.example.com/chat}}}}
    targets: [{{file: values.yaml, key: image.tag}}]
    canary:
      metrics:
        - {{name: errors, query: '{query}', max: 1}}
{permissions}"""


@pytest.mark.parametrize("word", ["maintainer", "owner", "Admin", "writers", "developer"])
def test_a_level_spelled_as_a_word_is_refused_with_the_level_meant(word: str) -> None:
    with pytest.raises(ConfigInvalid) as refused:
        load_repo_config(config(f"permissions:\n  apply: [{word}]\n"))
    (error,) = refused.value.errors
    assert error.line == 10 and "is not a permission level: did you mean" in error.message


def test_logins_teams_and_levels_still_pass() -> None:
    loaded = load_repo_config(
        config("permissions:\n  apply: [maintain, team:ml-platform, alice, maintainer-bob]\n")
    )
    assert loaded.permissions.apply == ("maintain", "team:ml-platform", "alice", "maintainer-bob")


def test_a_bad_query_is_an_error_on_its_line() -> None:
    with pytest.raises(ConfigInvalid) as refused:
        load_repo_config(config(query='sum(x{deployment="{{ deploymnt }}"})'))
    (error,) = refused.value.errors
    assert (error.line, error.key_path) == (8, "deployments[0].canary.metrics[0].query")


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ("semver:^1.x.y", "'y' is not a number"),
        ("semver:>=1.0.0,<<2", "'<' is a second operator"),
        ("semver:>=1.0.0,banana", "'banana' is not a number"),
        ("semver:1.2.3.4", "4 dot-separated parts"),
    ],
)
def test_semver_range_errors_name_the_wrong_part(policy: str, named: str) -> None:
    with pytest.raises(InvalidPolicy, match=named):
        parse_tag_policy(policy)


def check(capsys: pytest.CaptureFixture[str], checkout: Path) -> tuple[int, str]:
    code = main(["check-config", str(checkout / ".gitops-bot.yaml"), "--repo", str(checkout)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_example_passes_against_its_own_checkout(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys, EXAMPLE) == (0, f"{EXAMPLE / '.gitops-bot.yaml'}: OK\n")


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda root: (root / "apps/chat-llm/values-staging.yaml").unlink(),
            "apps/chat-llm/values-staging.yaml does not exist",
        ),
        (
            lambda root: (root / "apps/chat-llm/values-staging.yaml").write_text("image:\n  taag: 1\n"),
            "image.tag: no such key",
        ),
        (lambda root: shutil.rmtree(root / "terraform/staging"), "terraform/staging is not a directory"),
        (
            lambda root: (root / "terraform/staging/serving.auto.tfvars").write_text("other = 1\n"),
            "chat_llm_version",
        ),
        (
            lambda root: (root / "apps/chat-llm/values-prod.yaml").write_text(
                (root / "apps/chat-llm/values-prod.yaml").read_text().replace("previous: 0", "older: 0")
            ),
            "chat-llm-prod: apps/chat-llm/values-prod.yaml: traffic.previous: no such key",
        ),
        (
            lambda root: (root / "terraform/prod/serving.auto.tfvars.json").write_text(
                '{"serving": {"chat_llm": {"version": "1.3.0"}}}'
            ),
            "deployments[1].canary.shadow.weight_target: chat-llm-prod: "
            "terraform/prod/serving.auto.tfvars.json: serving.chat_llm.mirror_percent: no such key",
        ),
    ],
    ids=[
        "missing-file",
        "missing-key",
        "missing-project-dir",
        "missing-variable",
        "missing-weight",
        "no-mirror",
    ],
)
def test_what_the_checkout_lacks_is_named_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], break_it: object, expected: str
) -> None:
    checkout = tmp_path / "gitops"
    shutil.copytree(EXAMPLE, checkout, ignore=shutil.ignore_patterns("__init__.py"))
    break_it(checkout)  # type: ignore[operator]
    code, out = check(capsys, checkout)
    assert code == 1 and expected in out, out
    assert out.splitlines()[0].startswith(f"{checkout / '.gitops-bot.yaml'}:")


def test_repo_that_is_not_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-config", str(EXAMPLE / ".gitops-bot.yaml"), "--repo", str(tmp_path / "nope")])
    assert code == 2 and "is not a directory" in capsys.readouterr().err
