"""``regex:`` tag policies run on RE2, a linear-time engine: no tag can make a match take long.

Before, the policy was compiled with Python's backtracking ``re``: ``regex:(a+)+$`` against a
128-character tag of ``a``s ending in ``!`` never finished, holding a worker forever.
"""

from __future__ import annotations

import time

import pytest

from bot.config import ConfigInvalid, load_repo_config
from bot.versions import InvalidPolicy, RegexPolicy, compare_versions, decide_update, parse_tag_policy

EVIL_TAG = "a" * 127 + "!"


@pytest.mark.timeout(10)  # the old engine never returns: fail instead of hanging the run
@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)+$", "(a|aa)+$", "(a*)*b", "(\\w+\\d?)+z"])
def test_catastrophic_patterns_answer_at_once(pattern: str) -> None:
    policy = parse_tag_policy(f"regex:{pattern}")
    started = time.monotonic()
    assert not policy.matches(EVIL_TAG)
    assert policy.version_of(EVIL_TAG) is None
    assert decide_update(policy, None, EVIL_TAG).code == "no_match"
    assert time.monotonic() - started < 1.0  # a generous guard, not a benchmark


@pytest.mark.parametrize(
    ("pattern", "explanation"),
    [
        ("^v(?=\\d)\\d+$", "RE2 does not support lookahead (?=...)"),
        ("^(?!rc)\\w+$", "RE2 does not support negative lookahead (?!...)"),
        ("(?<=v)\\d+", "RE2 does not support lookbehind (?<=...)"),
        ("(?<!-rc)\\d+$", "RE2 does not support negative lookbehind (?<!...)"),
        ("(\\d+)-\\1", "RE2 does not support backreferences (\\1)"),
        ("(?P<v>\\d+)-(?P=v)", "RE2 does not support backreferences ((?P=name))"),
        ("v\\d++", "RE2 does not support possessive quantifiers"),
        ("(?>a+)b", "RE2 does not support atomic groups (?>...)"),
        ("[z-a]", "RE2 cannot compile it: invalid character class range: z-a"),
        ("(unclosed", "RE2 cannot compile it: missing ): (unclosed"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(
    pattern: str, explanation: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse_tag_policy(f"regex:{pattern}")
    message = str(caught.value)
    assert f"regex:{pattern}" in message
    assert explanation in message
    assert capfd.readouterr().err == ""  # RE2's own error log stays quiet


def test_an_unsupported_pattern_is_a_config_error_naming_the_line_and_policy() -> None:
    text = (
        "version: 1\n"
        "deployments:\n"
        "  - name: chat\n"
        "    trigger:\n"
        "      image: {repository: registry.example.com/serving/chat, tags: 'regex:^v(?=\\d)\\d+$'}\n"
        "    targets: [{file: values.yaml, key: image.tag}]\n"
    )
    with pytest.raises(ConfigInvalid) as caught:
        load_repo_config(text)
    (error,) = caught.value.errors
    assert (error.line, error.key_path) == (5, "deployments[0].trigger.image.tags")
    assert "regex:^v(?=\\d)\\d+$" in error.message
    assert "RE2 does not support lookahead" in error.message


def test_named_version_group_still_orders_tags() -> None:
    policy = parse_tag_policy("regex:^main-(?P<version>\\d+)$")
    assert isinstance(policy, RegexPolicy)
    assert compare_versions(policy, "main-10", "main-9") == 1
    assert policy.matches("main-10") and not policy.matches("main-10x")
    assert str(policy) == "regex:^main-(?P<version>\\d+)$"
    assert decide_update(policy, "main-9", "main-10").code == "accepted"
