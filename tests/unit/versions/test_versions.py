from __future__ import annotations

import pytest

from bot.versions import (
    ExactPolicy,
    InvalidPolicy,
    RegexPolicy,
    SemverPolicy,
    compare_versions,
    decide_update,
    parse_tag_policy,
    parse_version,
)


@pytest.mark.parametrize(
    ("range_text", "tag", "matches"),
    [
        (">=1.0.0,<2", "1.0.0", True),
        (">=1.0.0,<2", "v1.9.9", True),
        (">=1.0.0,<2", "2.0.0", False),
        (">=1.0.0,<2", "0.9.9", False),
        (">=1.0.0,<2", "1.5.0-rc.1", False),  # pre-releases excluded by default
        (">=1.0.0 <2", "1.5.0", True),  # space-separated comparators
        (">= 1.0.0, < 2", "1.5.0", True),
        ("*", "1.0.0", True),
        ("*", "7", True),  # MLflow version numbers
        ("*", "1.0.0-rc.1", False),
        ("*", "latest", False),
        ("*", "1.2.3-cuda12", False),  # semver reads the suffix as a pre-release
        ("^1.2", "1.2.0", True),
        ("^1.2", "1.9.0", True),
        ("^1.2", "1.1.9", False),
        ("^1.2", "2.0.0", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("^0.0.3", "0.0.4", False),
        ("^0", "0.9.0", True),
        ("^0", "1.0.0", False),
        ("~1.2", "1.2.9", True),
        ("~1.2", "1.3.0", False),
        ("~1.2.3", "1.2.2", False),
        ("~1", "1.9.0", True),
        ("1.x", "1.5.0", True),
        ("1.x", "2.0.0", False),
        ("1.2", "1.2.7", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "1.2.4", False),
        ("=1.2.3", "v1.2.3", True),
        (">1.2", "1.2.9", False),
        (">1.2", "1.3.0", True),
        (">1.2.3", "1.2.4", True),
        ("<=1.2", "1.2.9", True),
        ("<=1.2", "1.3.0", False),
        (">=1.0.0,!=1.4.0", "1.4.0", False),
        (">=1.0.0,!=1.4.0", "1.4.1", True),
        ("1.2.3 || >=3", "3.1.0", True),
        ("1.2.3 || >=3", "2.0.0", False),
        (">=2.0.0-rc.1", "2.0.0-rc.2", True),
        (">=2.0.0-rc.1", "2.0.0-rc.10", True),
        (">=2.0.0-rc.1", "2.0.0-beta.1", False),
        (">=2.0.0-rc.1", "2.1.0-rc.1", False),
        (">=2.0.0-rc.1", "2.1.0", True),
    ],
)
def test_semver_ranges(range_text: str, tag: str, matches: bool) -> None:
    assert parse_tag_policy(f"semver:{range_text}").matches(tag) is matches


@pytest.mark.parametrize(
    "text",
    [
        "semver:",
        "semver:>=banana",
        "semver:1.x.3",
        "semver:>1.2.3.4",
        "semver:!=1.2",
        "regex:(unclosed",
        "semvar:1",
        "a b",
    ],
)
def test_invalid_policies(text: str) -> None:
    with pytest.raises(InvalidPolicy):
        parse_tag_policy(text)


def test_policy_kinds_and_text_form() -> None:
    assert isinstance(parse_tag_policy("semver:^1.2"), SemverPolicy)
    assert isinstance(parse_tag_policy("regex:^main-\\d+$"), RegexPolicy)
    assert isinstance(parse_tag_policy("stable"), ExactPolicy)
    assert str(parse_tag_policy("semver:^1.2")) == "semver:^1.2"
    assert str(parse_tag_policy("regex:^main-\\d+$")) == "regex:^main-\\d+$"


@pytest.mark.parametrize(
    ("policy", "tag", "matches"),
    [
        ("regex:^main-[0-9a-f]{7}$", "main-abc1234", True),
        ("regex:^main-[0-9a-f]{7}$", "main-abc1234-dirty", False),  # full match, not search
        ("regex:main", "feature-main", False),
        ("regex:^(?P<version>\\d+\\.\\d+\\.\\d+)-cuda12$", "1.2.3-cuda12", True),
        ("stable", "stable", True),
        ("stable", "stable-1", False),
    ],
)
def test_regex_and_exact_matching(policy: str, tag: str, matches: bool) -> None:
    assert parse_tag_policy(policy).matches(tag) is matches


@pytest.mark.parametrize(
    ("policy", "left", "right", "order"),
    [
        ("semver:*", "1.10.0", "1.9.0", 1),
        ("semver:*", "v1.2.3", "1.2.3", 0),
        ("semver:*", "1.0.0-rc.10", "1.0.0-rc.2", 1),
        ("semver:*", "1.0.0+build.1", "1.0.0+build.2", 0),
        ("semver:*", "latest", "1.0.0", None),
        ("regex:^build-(?P<version>\\d+)$", "build-10", "build-9", 1),
        ("regex:^(?P<version>\\d+\\.\\d+\\.\\d+)-cuda12$", "1.10.0-cuda12", "1.9.0-cuda12", 1),
        ("regex:^main-[0-9a-f]{7}$", "main-abc1234", "main-def5678", None),
    ],
)
def test_compare_versions(policy: str, left: str, right: str, order: int | None) -> None:
    assert compare_versions(parse_tag_policy(policy), left, right) == order


@pytest.mark.parametrize(
    ("policy", "current", "candidate", "quarantined", "accept", "code"),
    [
        ("semver:>=1.0.0,<2", "1.2.3", "1.3.0", (), True, "accepted"),
        ("semver:>=1.0.0,<2", None, "1.3.0", (), True, "accepted"),
        ("semver:>=1.0.0,<2", "1.2.3", "2.0.0", (), False, "no_match"),
        ("semver:>=1.0.0,<2", "1.2.3", "1.2.3", (), False, "already_current"),
        ("semver:>=1.0.0,<2", "v1.2.3", "1.2.3", (), False, "already_current"),
        ("semver:>=1.0.0,<2", "1.2.3", "1.2.2", (), False, "older_than_current"),
        ("semver:*", "1.10.0", "1.9.0", (), False, "older_than_current"),  # numeric, not string, order
        # A rolled-back version stays rolled back, and so does anything not newer than it.
        ("semver:*", "1.2.3", "1.3.0", ("1.3.0",), False, "quarantined"),
        ("semver:*", "1.2.3", "v1.3.0", ("1.3.0",), False, "quarantined"),
        ("semver:*", "1.2.3", "1.2.9", ("1.3.0",), False, "not_newer_than_quarantined"),
        ("semver:*", None, "1.2.9", ("1.3.0",), False, "not_newer_than_quarantined"),
        ("semver:*", "1.2.3", "1.3.1", ("1.3.0",), True, "accepted"),
        ("semver:*", "1.2.3", "1.3.1", ("1.3.0", "1.3.1"), False, "quarantined"),
        ("semver:*", "1.2.3", "1.4.0", ("1.3.0", "not-a-version"), True, "accepted"),
        # Tags that are not versions: exact quarantine only, then the newest event wins.
        ("regex:^main-[0-9a-f]{7}$", "main-abc1234", "main-def5678", (), True, "accepted"),
        ("regex:^main-[0-9a-f]{7}$", "main-abc1234", "main-def5678", ("main-def5678",), False, "quarantined"),
        ("regex:^main-[0-9a-f]{7}$", "main-abc1234", "main-abc1234", (), False, "already_current"),
        ("regex:^build-(?P<version>\\d+)$", "build-41", "build-40", (), False, "older_than_current"),
        ("regex:^build-(?P<version>\\d+)$", "build-41", "build-42", (), True, "accepted"),
        ("stable", "stable", "stable", (), False, "already_current"),
        ("stable", "1.0.0", "stable", (), True, "accepted"),
        # Model versions.
        ("semver:*", "7", "8", (), True, "accepted"),
        ("semver:*", "8", "7", (), False, "older_than_current"),
        ("semver:*", "7", "10", ("9",), True, "accepted"),
        ("semver:*", "7", "8", ("9",), False, "not_newer_than_quarantined"),
        # The current version may not match the policy (hand-edited file): ordering still applies.
        ("semver:>=1.0.0,<2", "2.1.0", "1.9.0", (), False, "older_than_current"),
        ("semver:>=1.0.0,<2", "latest", "1.9.0", (), True, "accepted"),
    ],
)
def test_decide_update(
    policy: str, current: str | None, candidate: str, quarantined: tuple[str, ...], accept: bool, code: str
) -> None:
    decision = decide_update(policy, current, candidate, quarantined)
    assert (decision.accept, decision.code) == (accept, code), decision.reason
    assert candidate in decision.reason or (current or "") in decision.reason


def test_decide_update_accepts_a_parsed_policy() -> None:
    assert decide_update(parse_tag_policy("semver:^1"), "1.0.0", "1.1.0").accept


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("V2", "2.0.0"),
        ("1.2", "1.2.0"),
        ("7", "7.0.0"),
        ("1.0.0-rc.1", "1.0.0-rc.1"),
    ],
)
def test_parse_version(text: str, parsed: str) -> None:
    version = parse_version(text)
    assert version is not None and str(version) == parsed


@pytest.mark.parametrize("text", ["latest", "", "v", "01.2.3", "1.2.3.4", "main-abc"])
def test_parse_version_rejects(text: str) -> None:
    assert parse_version(text) is None
