"""npm-style semantic version ranges (``>=1.2 <2``, ``^1.2``, ``~1.2``, ``1.x``, ``||``) over python-semver.

Range syntax is not in python-semver, so it is parsed here into alternatives of primitive
comparators; the meaning of each form is in ``bot.versions``'s module docs, which re-exports
these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args

import semver

_PARTIAL = re.compile(
    r"[vV]?(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*])(?:\.(?P<patch>\d+|[xX*])"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?)?)?"
)
_COMPARATOR = re.compile(r"(?P<op>>=|<=|==|!=|>|<|=|\^|~)?\s*(?P<version>[^\s,|]+)")

Op = Literal[">=", ">", "<", "<=", "=", "!="]
_OPS: frozenset[str] = frozenset(get_args(Op))


def _is_op(text: str) -> TypeGuard[Op]:
    """A range operator that is also a primitive comparator's (``^``, ``~`` and ``==`` are not)."""
    return text in _OPS


class InvalidPolicy(ValueError):
    """A tag policy or version range that cannot be parsed; the message says where."""


def parse_version(text: str) -> semver.Version | None:
    """``text`` as a semantic version (leading ``v`` and missing minor/patch tolerated), else None."""
    candidate = text.strip()
    if candidate[:1] in ("v", "V"):
        candidate = candidate[1:]
    if not candidate or not candidate[0].isdigit():
        return None
    try:
        return semver.Version.parse(candidate, optional_minor_and_patch=True)
    except ValueError:
        return None


@dataclass(frozen=True)
class Comparator:
    op: Op
    version: semver.Version

    def holds(self, version: semver.Version) -> bool:
        order = version.compare(self.version)
        return {
            ">=": order >= 0,
            ">": order > 0,
            "<": order < 0,
            "<=": order <= 0,
            "=": order == 0,
            "!=": order != 0,
        }[self.op]


@dataclass(frozen=True)
class SemverRange:
    text: str
    alternatives: tuple[tuple[Comparator, ...], ...]

    def contains(self, version: semver.Version) -> bool:
        return any(_set_admits(comparators, version) for comparators in self.alternatives)


def _set_admits(comparators: tuple[Comparator, ...], version: semver.Version) -> bool:
    if not all(comparator.holds(version) for comparator in comparators):
        return False
    if version.prerelease is None:
        return True
    core = (version.major, version.minor, version.patch)
    return any(
        c.version.prerelease is not None and (c.version.major, c.version.minor, c.version.patch) == core
        for c in comparators
    )


def parse_semver_range(text: str) -> SemverRange:
    """Parse an npm-style range (see the module docs) into alternatives of primitive comparators."""
    alternatives: list[tuple[Comparator, ...]] = []
    for alternative in text.split("||"):
        comparators: list[Comparator] = []
        position = 0
        body = alternative.strip()
        while position < len(body):
            if body[position] in " ,\t":
                position += 1
                continue
            match = _COMPARATOR.match(body, position)
            if match is None:
                raise InvalidPolicy(f"invalid version range {text!r} near {body[position:]!r}")
            comparators.extend(_expand(match.group("op") or "=", match.group("version"), text))
            position = match.end()
        alternatives.append(tuple(comparators))
    return SemverRange(text=text, alternatives=tuple(alternatives))


def _expand(op: str, version_text: str, whole: str) -> list[Comparator]:
    numbers, pre = _partial_version(version_text, whole)
    if len(numbers) == 3:
        return _expand_full(op, numbers, pre)
    if pre is not None:
        raise InvalidPolicy(
            f"invalid version {version_text!r} in range {whole!r}: a pre-release needs major.minor.patch"
        )
    if not numbers:  # ``*``: any version (subject to the pre-release rule)
        if op in ("<", ">", "!="):
            raise InvalidPolicy(f"{op}{version_text} in range {whole!r} matches nothing")
        return [Comparator(">=", _version(0))]
    return _expand_partial(op, numbers, whole)


def _why_not_a_version(text: str) -> str:
    """What is wrong with the part of a range that should have been a version."""
    if text[:1] in "<>=~^!":
        return f"{text[0]!r} is a second operator: one comparator is one of >= <= > < = ^ ~ then a version"
    parts = text.split("-", 1)[0].split(".")
    if len(parts) > 3:
        return f"{len(parts)} dot-separated parts: a version is MAJOR.MINOR.PATCH"
    wrong = next((part for part in parts if not (part.isdigit() or part in ("x", "X", "*"))), None)
    if wrong is not None:
        return f"{wrong!r} is not a number (nor x or *): each of MAJOR.MINOR.PATCH is one"
    return "a version is MAJOR.MINOR.PATCH, each a number or x or *, then an optional -pre-release"


def _partial_version(version_text: str, whole: str) -> tuple[list[int], str | None]:
    """``1.2`` → ([1, 2], None), ``1.x`` → ([1], None), ``1.2.3-rc.1`` → ([1, 2, 3], "rc.1")."""
    match = _PARTIAL.fullmatch(version_text)
    if match is None:
        raise InvalidPolicy(
            f"invalid version {version_text!r} in range {whole!r}: {_why_not_a_version(version_text)}"
        )
    parts = [match.group(name) for name in ("major", "minor", "patch")]
    numbers: list[int] = []
    for part in parts:
        if part is None or part in "xX*":
            break
        numbers.append(int(part))
    if any(part is not None and part not in "xX*" for part in parts[len(numbers) :]):
        raise InvalidPolicy(f"invalid version {version_text!r} in range {whole!r}: a wildcard must come last")
    return numbers, match.group("pre")


def _version(*components: int, prerelease: str | None = None) -> semver.Version:
    major, minor, patch = [*components, 0, 0, 0][:3]
    # Build metadata never affects precedence, so it is left out.
    return semver.Version(major, minor, patch, prerelease=prerelease)


def _expand_full(op: str, numbers: list[int], pre: str | None) -> list[Comparator]:
    """A comparator on a full ``major.minor.patch`` version."""
    exact = _version(*numbers, prerelease=pre)
    if op in ("=", "=="):
        return [Comparator("=", exact)]
    if _is_op(op):  # ">=", ">", "<", "<=" or "!=": "=" was handled above
        return [Comparator(op, exact)]
    if op == "~":
        return [Comparator(">=", exact), Comparator("<", _version(numbers[0], numbers[1] + 1))]
    # Caret: the left-most non-zero component may not change.
    if numbers[0] > 0:
        upper = _version(numbers[0] + 1)
    elif numbers[1] > 0:
        upper = _version(0, numbers[1] + 1)
    else:
        upper = _version(0, 0, numbers[2] + 1)
    return [Comparator(">=", exact), Comparator("<", upper)]


def _expand_partial(op: str, numbers: list[int], whole: str) -> list[Comparator]:
    """A comparator on ``major`` or ``major.minor``: the range of versions it stands for."""
    lower = _version(*numbers)
    # The first version after the partial one: 1 -> 2.0.0, 1.2 -> 1.3.0.
    bumped = _version(numbers[0] + 1) if len(numbers) == 1 else _version(numbers[0], numbers[1] + 1)
    if op in ("=", "==", "~") or (op == "^" and len(numbers) == 2 and numbers[0] == 0):
        return [Comparator(">=", lower), Comparator("<", bumped)]
    if op == "^":
        upper = _version(numbers[0] + 1) if numbers[0] > 0 or len(numbers) == 1 else bumped
        return [Comparator(">=", lower), Comparator("<", upper)]
    if op == ">=":
        return [Comparator(">=", lower)]
    if op == ">":
        return [Comparator(">=", bumped)]
    if op == "<":
        return [Comparator("<", lower)]
    if op == "<=":
        return [Comparator("<", bumped)]
    raise InvalidPolicy(f"!= needs a full version (major.minor.patch) in range {whole!r}")
