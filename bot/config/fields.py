"""The field types ``.gitops-bot.yaml`` is built from: durations, paths, names, logins, policies.

Each type validates on its own and says what a good value looks like, so every model that uses
it reports the same message. Durations are written ``30s``, ``10m``, ``1h`` or combined
(``1h30m``) and stored as whole seconds; a bare integer means seconds. Paths are relative to the
repository root.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from bot.config.permissions import CONFIG_LEVELS
from bot.edits.paths import InvalidPath, parse_path
from bot.images import InvalidImageReference, split_repository_name
from bot.versions import InvalidPolicy, parse_tag_policy

PERMISSION_LEVELS: tuple[str, ...] = CONFIG_LEVELS
"""GitHub repository permission levels, weakest first: a level entry admits that level and above."""

_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
_GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_TEAM_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]*")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_:.-]*")


def parse_duration(value: object) -> int:
    """``30s``/``10m``/``1h``/``1h30m`` or an integer number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 10m or 1h")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match and any(match.groupdict().values()):
            hours, minutes, seconds = (int(match.group(unit) or 0) for unit in "hms")
            return hours * 3600 + minutes * 60 + seconds
    raise ValueError(f"expected a duration like 30s, 10m, 1h or 1h30m, got {value!r}")


def format_duration(seconds: int) -> str:
    """Seconds as a Prometheus range duration (``90`` → ``1m30s``), used for ``{{ interval }}``."""
    if seconds <= 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(
        f"{amount}{unit}" for amount, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if amount
    )


def _relative_path(value: str) -> str:
    if not value.strip() or value != value.strip():
        raise ValueError("must be a non-empty path without surrounding spaces")
    if "\\" in value:
        raise ValueError("use forward slashes")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError("must be relative to the repository root and stay inside it (no leading / or ..)")
    return str(path)


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


# Words people write for a permission level. Each is also a valid GitHub login, which is what it
# would silently be taken for ("maintainer" would allow one user of that name, and nobody else).
_LEVEL_WORDS = {
    "maintainer": "maintain", "maintainers": "maintain", "owner": "admin", "owners": "admin",
    "administrator": "admin", "administrators": "admin", "admins": "admin", "writer": "write",
    "writers": "write", "developer": "write", "developers": "write", "reader": "read",
    "readers": "read", "triager": "triage", "triagers": "triage",
}  # fmt: skip


def _permission_entry(value: str) -> str:
    if value in PERMISSION_LEVELS:
        return value
    meant = _LEVEL_WORDS.get(value.lower()) or (value.lower() if value.lower() in PERMISSION_LEVELS else None)
    if meant is not None:
        raise ValueError(
            f"{value!r} is not a permission level: did you mean {meant!r}? Levels are "
            f"{', '.join(PERMISSION_LEVELS)} (a level allows everyone at it or above); a person "
            "whose login is such a word is allowed through a team: team:<slug>"
        )
    if value.startswith("team:"):
        if _TEAM_SLUG.fullmatch(value.removeprefix("team:")):
            return value
        raise ValueError(f"{value!r}: team:<slug> needs a team slug such as team:ml-platform")
    if _GITHUB_LOGIN.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is not a GitHub login, team:<slug>, "
        f"or a permission level ({', '.join(PERMISSION_LEVELS)})"
    )


def _reviewer(value: str) -> str:
    if value.startswith("team:") and _TEAM_SLUG.fullmatch(value.removeprefix("team:")):
        return value
    if _GITHUB_LOGIN.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not a GitHub login or team:<slug>")


def _key_path(value: str) -> str:
    try:
        parse_path(value)
    except InvalidPath as exc:
        raise ValueError(str(exc)) from exc
    return value


def _image_repository(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    if "@" in value or ":" in last:
        raise ValueError("name the repository only, without a tag or digest (the tags key chooses tags)")
    try:
        split_repository_name(value)
    except InvalidImageReference as exc:
        raise ValueError(str(exc)) from exc
    return value


def _tag_policy(value: str) -> str:
    try:
        parse_tag_policy(value)
    except InvalidPolicy as exc:
        raise ValueError(str(exc)) from exc
    return value


# The bound sits on the integer the text is parsed into (same check, same message), which also
# lets the JSON Schema say "minimum: 1" (pydantic writes a bound outside a validator as "ge").
Duration = Annotated[int, Field(ge=1), BeforeValidator(parse_duration)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]
Name = Annotated[str, _pattern(_NAME, "name (letters, digits, '.', '_', '-')")]
GitHubLogin = Annotated[str, _pattern(_GITHUB_LOGIN, "GitHub login")]
SlackUserId = Annotated[str, _pattern(_SLACK_USER_ID, "Slack user id (like U2CERLKJA)")]
PermissionEntry = Annotated[str, AfterValidator(_permission_entry)]
Reviewer = Annotated[str, AfterValidator(_reviewer)]
NonEmpty = Annotated[str, Field(min_length=1)]
ProjectName = Annotated[str, _pattern(_PROJECT_NAME, "project name")]
WorkspaceName = Annotated[str, _pattern(_NAME, "Terraform workspace name")]
MetricName = Annotated[str, _pattern(_METRIC_NAME, "metric name")]
KubernetesNamespace = Annotated[str, _pattern(_DNS_LABEL, "Kubernetes namespace")]
KubernetesDeploymentName = Annotated[str, _pattern(_DNS_SUBDOMAIN, "Kubernetes Deployment name")]
ImageRepository = Annotated[str, AfterValidator(_image_repository)]
TagPolicyText = Annotated[str, AfterValidator(_tag_policy)]
KeyPath = Annotated[str, AfterValidator(_key_path)]


class StrictModel(BaseModel):
    """Unknown keys are errors, so a typo is reported rather than silently ignored."""

    # Attribute docstrings become field descriptions: `gitops-bot schema` shows them in editors.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
