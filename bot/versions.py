"""Which pushed tags (or model versions) may become a deployment's new version.

A trigger's ``tags`` policy is one of:

``semver:<range>``
    Tags that are semantic versions inside the range. A leading ``v`` is tolerated (``v1.2.3``) and
    missing minor/patch parts count as zero (``1.2`` is ``1.2.0``; MLflow's version ``7`` is
    ``7.0.0``). A range is comparators joined by ``,`` or spaces (all must hold), alternatives
    joined by ``||``. Comparators: ``>=1.0.0``, ``>1``, ``<2``, ``<=1.4``, ``=1.2.3``/``1.2.3``,
    ``!=1.2.3``, partial/x-ranges (``1``, ``1.2``, ``1.x``, ``*``), caret ``^1.2`` (``>=1.2.0 <2.0.0``;
    ``^0.2.3`` is ``>=0.2.3 <0.3.0``) and tilde ``~1.2`` (``>=1.2.0 <1.3.0``), with npm's meanings.
    Pre-releases (``1.3.0-rc.1``, and suffixes such as ``1.2.3-cuda12``, which semver reads as
    pre-releases) are excluded unless a comparator in the same alternative names a pre-release of
    the same ``major.minor.patch`` (npm's rule): ``>=2.0.0-rc.1`` admits ``2.0.0-rc.2`` but not
    ``2.1.0-rc.1``. Use a ``regex:`` policy for variant suffixes.
``regex:<pattern>``
    Tags the pattern matches in full. Ordering: the named group ``version`` if the pattern has
    one, else the whole tag, read as a semantic version as above (so
    ``regex:^main-(?P<version>\\d+)$`` orders by build number). When either side cannot be read as
    a version the tags are not comparable and the newest *event* wins. The pattern is compiled
    with RE2 (``google-re2``), whose matching time is linear in the tag's length: the pattern is
    written by whoever can push to the GitOps repository and the tag by whoever can push to a
    registry, and a backtracking engine lets ``(a+)+$`` hold a worker for ever. RE2 has the usual
    syntax (named groups ``(?P<name>...)``, classes, ``{m,n}``, ``(?i)``) but no lookaround and no
    backreferences; a pattern using them is refused when the config is validated, with the reason.
any other text
    Exactly that tag (``stable``). Ordering as for regex without a group.

Ordering and comparison use the ``semver`` package (python-semver 3): it implements SemVer 2.0.0
precedence exactly (``rc.10`` after ``rc.2``, build metadata ignored), which ``packaging`` does
not — it implements PEP 440, rejects valid semver pre-releases such as ``1.0.0-foo.bar`` and reads
``+build`` as a local version. Range syntax is not in python-semver, so it is parsed in
``bot.version_ranges``.

:func:`decide_update` is the one decision every event goes through; see its docstring.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import re2
import semver

from bot.version_ranges import Comparator, InvalidPolicy, SemverRange, parse_semver_range, parse_version

__all__ = [
    "DEFAULT_TAG_POLICY",
    "Comparator",
    "Decision",
    "DecisionCode",
    "ExactPolicy",
    "InvalidPolicy",
    "RegexPolicy",
    "SemverPolicy",
    "SemverRange",
    "TagPolicy",
    "compare_versions",
    "compile_linear",
    "decide_update",
    "parse_semver_range",
    "parse_tag_policy",
    "parse_version",
]

_TAG = re.compile(r"[\w][\w.-]{0,127}")


@dataclass(frozen=True)
class SemverPolicy:
    range: SemverRange

    def matches(self, tag: str) -> bool:
        version = parse_version(tag)
        return version is not None and self.range.contains(version)

    def version_of(self, tag: str) -> semver.Version | None:
        return parse_version(tag)

    def __str__(self) -> str:
        return f"semver:{self.range.text}"


@dataclass(frozen=True)
class RegexPolicy:
    pattern: re2._Regexp  # the compiled RE2 pattern (google-re2 exports no public name for its type)

    def matches(self, tag: str) -> bool:
        return self.pattern.fullmatch(tag) is not None

    def version_of(self, tag: str) -> semver.Version | None:
        match = self.pattern.fullmatch(tag)
        if match is not None and "version" in self.pattern.groupindex:
            return parse_version(match.group("version") or "")
        return parse_version(tag)

    def __str__(self) -> str:
        return f"regex:{self.pattern.pattern}"


@dataclass(frozen=True)
class ExactPolicy:
    tag: str

    def matches(self, tag: str) -> bool:
        return tag == self.tag

    def version_of(self, tag: str) -> semver.Version | None:
        return parse_version(tag)

    def __str__(self) -> str:
        return self.tag


TagPolicy = SemverPolicy | RegexPolicy | ExactPolicy

DEFAULT_TAG_POLICY = "semver:*"


def parse_tag_policy(text: str) -> TagPolicy:
    """``semver:<range>``, ``regex:<pattern>`` or an exact tag (see the module docs)."""
    stripped = text.strip()
    kind, separator, argument = stripped.partition(":")
    if separator and kind == "semver":
        if not argument.strip():
            raise InvalidPolicy("semver: needs a range, e.g. semver:>=1.0.0,<2 (or semver:* for any release)")
        return SemverPolicy(parse_semver_range(argument.strip()))
    if separator and kind == "regex":
        return RegexPolicy(compile_linear(argument))
    if not _TAG.fullmatch(stripped):
        raise InvalidPolicy(
            f"invalid tag policy {text!r}: expected semver:<range>, regex:<pattern> or an exact tag"
        )
    return ExactPolicy(stripped)


# What RE2 says when it meets a construct only backtracking engines have, and what to tell people.
_RE2_UNSUPPORTED: tuple[tuple[str, str], ...] = (
    ("invalid perl operator: (?=", "lookahead (?=...)"),
    ("invalid perl operator: (?!", "negative lookahead (?!...)"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...)"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!...)"),
    ("invalid perl operator: (?>", "atomic groups (?>...)"),
    ("invalid perl operator: (?(", "conditionals (?(...)...)"),
    ("invalid perl operator: (?#", "comments (?#...)"),
    ("bad repetition operator: ++", "possessive quantifiers (++, *+, ?+)"),
    ("bad repetition operator: *+", "possessive quantifiers (++, *+, ?+)"),
    ("bad repetition operator: ?+", "possessive quantifiers (++, *+, ?+)"),
)
_RE2_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")
_RE2_SYNTAX = "https://github.com/google/re2/wiki/Syntax"


def compile_linear(pattern: str) -> re2._Regexp:
    """``pattern`` compiled with RE2 (linear-time matching), or :class:`InvalidPolicy` saying why not."""
    options = re2.Options()
    options.log_errors = False  # the reason goes into the exception, not onto stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise InvalidPolicy(f"invalid tag policy regex:{pattern}: {_re2_reason(pattern, exc)}") from None


def _re2_reason(pattern: str, error: re2.error) -> str:
    detail = error.args[0] if error.args else ""
    message = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    unsupported = next((what for prefix, what in _RE2_UNSUPPORTED if message.startswith(prefix)), None)
    if unsupported is None and _RE2_BACKREFERENCE.match(message):
        unsupported = "backreferences (\\1)"
    if unsupported is None and message.startswith("invalid perl operator: (?P") and "(?P=" in pattern:
        unsupported = "backreferences ((?P=name))"
    if unsupported is not None:
        return (
            f"RE2 does not support {unsupported}. Tag policies are matched with RE2, whose time is "
            f"linear in the tag's length, so no tag can make a match run long ({_RE2_SYNTAX})"
        )
    return f"RE2 cannot compile it: {message} ({_RE2_SYNTAX})"


def compare_versions(policy: TagPolicy, left: str, right: str) -> int | None:
    """-1, 0 or 1 when both read as versions under ``policy``; None when they are not comparable."""
    left_version, right_version = policy.version_of(left), policy.version_of(right)
    if left_version is None or right_version is None:
        return None
    return left_version.compare(right_version)


DecisionCode = Literal[
    "accepted",
    "no_match",
    "quarantined",
    "not_newer_than_quarantined",
    "already_current",
    "older_than_current",
]


@dataclass(frozen=True)
class Decision:
    accept: bool
    reason: str
    code: DecisionCode


def decide_update(
    policy: TagPolicy | str,
    current_version: str | None,
    candidate_tag: str,
    quarantined: Collection[str] = (),
) -> Decision:
    """Whether a deployment currently at ``current_version`` (None: unknown or never deployed) should
    move to ``candidate_tag``. In order:

    1. the candidate must match the policy;
    2. a quarantined (rolled-back) version is refused, as is — by policy — anything not strictly
       newer than a quarantined version it can be compared with: a rolled-back version stays rolled
       back, and so do the versions it superseded. Only an explicit deploy lifts a quarantine, and
       that path does not go through this function;
    3. with no current version, accept;
    4. the same version as the current one (``v1.2.3`` and ``1.2.3`` are the same; build metadata
       is ignored, as SemVer precedence says) is a no-op;
    5. when both read as versions, the candidate must be strictly newer: the bot never moves a
       deployment backwards;
    6. when they are not comparable (``stable``, commit hashes), the newest event wins.

    Digest-only changes (the same tag pushed again) are the caller's business: compare the
    rendered target values, which include the digest for ``tag@digest`` targets.
    """
    parsed = parse_tag_policy(policy) if isinstance(policy, str) else policy
    if not parsed.matches(candidate_tag):
        return Decision(False, f"{candidate_tag} does not match the tag policy {parsed}", "no_match")

    refused = _quarantine_refusal(parsed, candidate_tag, quarantined)
    if refused is not None:
        return refused
    if current_version is None:
        return Decision(True, f"{candidate_tag} matches {parsed} and nothing is deployed yet", "accepted")
    order = compare_versions(parsed, candidate_tag, current_version)
    if candidate_tag == current_version or order == 0:
        return Decision(False, f"already at {current_version}", "already_current")
    if order is None:
        return Decision(
            True,
            f"{candidate_tag} matches {parsed}; it is not comparable with {current_version} as a version, "
            "so the newest event wins",
            "accepted",
        )
    if order < 0:
        return Decision(
            False,
            f"{candidate_tag} is older than the current {current_version}; the bot never moves backwards",
            "older_than_current",
        )
    return Decision(True, f"{candidate_tag} is newer than {current_version} and matches {parsed}", "accepted")


def _quarantine_refusal(
    policy: TagPolicy, candidate_tag: str, quarantined: Collection[str]
) -> Decision | None:
    """Rule 2 of :func:`decide_update`: the refusal when a rolled-back version blocks the candidate."""
    for rolled_back in quarantined:
        order = compare_versions(policy, candidate_tag, rolled_back)
        if rolled_back == candidate_tag or order == 0:
            return Decision(
                False,
                f"{candidate_tag} was rolled back and stays quarantined until someone deploys it explicitly",
                "quarantined",
            )
        if order is not None and order < 0:
            return Decision(
                False,
                f"{candidate_tag} is not newer than the rolled-back version {rolled_back}, "
                "so it stays quarantined until someone deploys it explicitly",
                "not_newer_than_quarantined",
            )
    return None
