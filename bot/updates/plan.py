"""Planning a version update: pure decisions over data, no I/O.

Given a deployment from ``.gitops-bot.yaml``, a candidate version (and digest), the current text of
every target file on the default branch, the quarantined versions and the bot's open pull requests
for the deployment, :func:`plan_update` answers with either an :class:`UpdatePlan` (the exact file
edits, the branch, what it supersedes) or a :class:`NoUpdate` (a no-op or a refusal, with the reason
a person would want to read).

The rules, in order:

1. the version must be usable as a tag and a branch component, the digest (if any) must look like
   one, and every target file must exist as a regular file (not a symbolic link the forge cannot
   resolve inside the repository) and hold the addressed key: edits never create keys;
2. the current version is the value in the first target that carries a tag (``tag``, ``tag@digest``,
   ``image``, ``image@digest``): git is the truth, not the bot's memory;
3. :func:`bot.versions.decide_update` decides (policy, quarantine, never backwards). An *explicit*
   deploy (``/gitops deploy`` by someone with ``deploy`` permission) may go outside the policy and
   backwards: a person chose that version, and the audit log says who;
4. the same version again changes nothing, unless a target still differs: a new digest for the
   same tag, or a target left behind by a hand edit, is brought in line;
5. an open bot pull request for a *newer* version wins (the bot never proposes going backwards
   from what it already proposed); open bot pull requests for older versions are superseded.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.adapters.forge.names import pull_reference
from bot.config import Deployment, Target
from bot.edits import EditError, apply_edit
from bot.images import DIGEST_FORMATS, TAG_FORMATS, TargetFormat, render_target_value, version_from_value
from bot.updates.branch_names import branch_for
from bot.updates.traffic import TrafficEdit, first_ladder, write_first_rung
from bot.versions import Decision, compare_versions, decide_update

_VERSION = re.compile(r"[\w][\w.+-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
NoUpdateCode = Literal[
    "invalid_version",
    "invalid_digest",
    "missing_file",
    "unusable_file",
    "bad_target",
    "no_match",
    "quarantined",
    "not_newer_than_quarantined",
    "older_than_current",
    "already_current",
    "newer_pending",
]
REFUSALS: frozenset[str] = frozenset(
    {
        "invalid_version",
        "invalid_digest",
        "missing_file",
        "unusable_file",
        "bad_target",
        "no_match",
        "quarantined",
        "not_newer_than_quarantined",
        "older_than_current",
    }
)
"""Codes that are refusals (someone asked for something the rules forbid); the rest are no-ops."""


@dataclass(frozen=True)
class PendingUpdate:
    """An open bot pull request for the deployment (found by its branch name)."""

    version: str
    number: int
    url: str
    branch: str


@dataclass(frozen=True)
class TargetEdit:
    """One target's change: where, from what to what."""

    file: str
    location: str
    format: TargetFormat
    old_value: str | None
    new_value: str
    changed: bool


@dataclass(frozen=True)
class FileChange:
    """A file's text before and after every edit to it."""

    path: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def unified_diff(self) -> str:
        return unified_diff(self.path, self.before, self.after)


@dataclass(frozen=True)
class UpdatePlan:
    repo: str
    deployment: Deployment
    version: str
    digest: str | None
    previous_version: str | None
    reason: str
    branch: str
    edits: tuple[TargetEdit, ...]
    files: tuple[FileChange, ...]
    supersedes: tuple[PendingUpdate, ...] = ()
    explicit: bool = False
    decision_code: str = "accepted"
    traffic: TrafficEdit | None = None

    @property
    def changed_files(self) -> tuple[FileChange, ...]:
        return tuple(change for change in self.files if change.changed)

    @property
    def diff(self) -> str:
        return "".join(change.unified_diff() for change in self.changed_files)

    @property
    def contents(self) -> dict[str, str]:
        """Path → new text of every changed file: what the branch must hold."""
        return {change.path: change.after for change in self.changed_files}


@dataclass(frozen=True)
class NoUpdate:
    code: NoUpdateCode
    reason: str
    previous_version: str | None = None
    pending: PendingUpdate | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.code in REFUSALS


def unified_diff(path: str, before: str, after: str) -> str:
    """A ``git diff``-style unified diff of one file (``a/``/``b/`` prefixes, 3 lines of context).

    A last line without a newline is marked as git marks it, so the diff applies with ``git apply``.
    """
    if before == after:
        return ""
    old_lines = before.splitlines(keepends=True)
    new_lines = after.splitlines(keepends=True)
    out = [f"diff --git a/{path} b/{path}\n"]
    for line in difflib.unified_diff(old_lines, new_lines, f"a/{path}", f"b/{path}", n=3):
        if line.startswith(("---", "+++")):
            out.append(line.rstrip("\n") + "\n")
            continue
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def plan_update(
    *,
    repo: str,
    deployment: Deployment,
    version: str,
    digest: str | None,
    files: Mapping[str, str | None],
    quarantined: Collection[str] = (),
    pending: Sequence[PendingUpdate] = (),
    explicit: bool = False,
    unusable: Mapping[str, str] | None = None,
) -> UpdatePlan | NoUpdate:
    """Decide whether and how to move ``deployment`` to ``version`` (see the module docs).

    ``files`` maps each target file to its text on the default branch (None: the file is missing);
    ``unusable`` maps a target file the forge would not hand out as a file (a symbolic link, a
    directory) to why.
    """
    version = version.strip()
    invalid = _invalid_input(version, digest)
    if invalid is not None:
        return invalid

    edits, texts, problem = _edit_targets(deployment, version, digest, files, unusable or {})
    if problem is not None:
        return problem
    traffic = _first_rung(deployment, texts, files, unusable or {})
    if isinstance(traffic, NoUpdate):
        return traffic
    changes = [FileChange(path, files[path] or "", text) for path, text in texts.items()]
    previous = _current_version(edits)
    decision = decide_update(deployment.trigger.policy, previous, version, quarantined)
    reason = (
        decision.reason
        if decision.accept
        else _overrule(decision, explicit=explicit, version=version, previous=previous, edits=edits)
    )
    if isinstance(reason, NoUpdate):
        return reason

    current = _already_current(deployment, version, digest, edits, previous)
    if current is not None:
        return current

    supersedes = _superseded(repo, pending, deployment, version, previous=previous, explicit=explicit)
    if isinstance(supersedes, NoUpdate):
        return supersedes

    return UpdatePlan(
        repo=repo,
        deployment=deployment,
        version=version,
        digest=digest,
        previous_version=previous,
        reason=reason,
        branch=branch_for(deployment.name, version),
        edits=tuple(edits),
        files=tuple(changes),
        supersedes=supersedes,
        explicit=explicit,
        decision_code=decision.code,
        traffic=traffic,
    )


def _already_current(
    deployment: Deployment,
    version: str,
    digest: str | None,
    edits: Sequence[TargetEdit],
    previous: str | None,
) -> NoUpdate | None:
    """Rule: nothing to write when every target already holds the version (and digest)."""
    if any(edit.changed for edit in edits):
        return None
    return NoUpdate(
        "already_current",
        f"every target of {deployment.name} already holds {version}"
        + (f"@{digest}" if digest and _wants_digest(deployment.targets) else ""),
        previous_version=previous,
    )


def _invalid_input(version: str, digest: str | None) -> NoUpdate | None:
    if not _VERSION.fullmatch(version) or ".." in version or version.endswith((".", ".lock")):
        return NoUpdate(
            "invalid_version",
            f"{version!r} cannot be a version: use letters, digits, '.', '_', '+' and '-' "
            "(it becomes part of a branch name)",
        )
    if digest is not None and not _DIGEST.fullmatch(digest):
        return NoUpdate("invalid_digest", f"{digest!r} is not an image digest (like sha256:<64 hex digits>)")
    return None


def _superseded(
    repo: str,
    pending: Sequence[PendingUpdate],
    deployment: Deployment,
    version: str,
    *,
    previous: str | None,
    explicit: bool,
) -> tuple[PendingUpdate, ...] | NoUpdate:
    """The open updates this one replaces; or why not, when one already proposes a newer version."""
    supersedes: list[PendingUpdate] = []
    for open_update in pending:
        if open_update.version == version:
            continue  # our own branch: updated in place, not superseded
        order = compare_versions(deployment.trigger.policy, open_update.version, version)
        if order is not None and order > 0 and not explicit:
            return NoUpdate(
                "newer_pending",
                f"pull request {pull_reference(repo, open_update.number)} already proposes the newer "
                f"{open_update.version} "
                f"for {deployment.name}; the bot does not propose going back to {version}",
                previous_version=previous,
                pending=open_update,
            )
        supersedes.append(open_update)
    return tuple(supersedes)


def _edit_targets(
    deployment: Deployment,
    version: str,
    digest: str | None,
    files: Mapping[str, str | None],
    unusable: Mapping[str, str],
) -> tuple[list[TargetEdit], dict[str, str], NoUpdate | None]:
    """The target edits and each edited file's new text (path → text), or why they cannot be made."""
    repository = deployment.trigger.image.repository if deployment.trigger.image is not None else ""
    texts: dict[str, str] = {}
    edits: list[TargetEdit] = []
    for target in deployment.targets:
        if target.file not in texts:
            problem = _unreadable(deployment, target.file, files, unusable)
            if problem is not None:
                return [], {}, problem
            texts[target.file] = files[target.file] or ""
        try:
            new_value = render_target_value(target.format, repository=repository, tag=version, digest=digest)
        except ValueError as exc:
            return [], {}, NoUpdate("bad_target", f"{target.file} ({target.location}): {exc}")
        try:
            result = apply_edit(target.file, texts[target.file], target, new_value)
        except EditError as exc:
            return [], {}, NoUpdate("bad_target", str(exc))
        texts[target.file] = result.text
        edits.append(
            TargetEdit(
                file=target.file,
                location=target.location,
                format=target.format,
                old_value=result.old_value,
                new_value=new_value,
                changed=result.changed,
            )
        )
    return edits, texts, None


def _first_rung(
    deployment: Deployment,
    texts: dict[str, str],
    files: Mapping[str, str | None],
    unusable: Mapping[str, str],
) -> TrafficEdit | NoUpdate | None:
    """With canary steps, the first step's traffic written into ``texts`` too (bot.updates.traffic)."""
    ladder = first_ladder(deployment, texts, files)
    if ladder is None:
        return None
    for path in ladder.files():
        if path not in texts:
            problem = _unreadable(deployment, path, files, unusable)
            if problem is not None:
                return problem
            texts[path] = files[path] or ""
    written = write_first_rung(texts, ladder)
    return NoUpdate("bad_target", written) if isinstance(written, str) else written


def _unreadable(
    deployment: Deployment, path: str, files: Mapping[str, str | None], unusable: Mapping[str, str]
) -> NoUpdate | None:
    if path in unusable:
        return NoUpdate(
            "unusable_file", f"{path} (a target of {deployment.name}) cannot be edited: {unusable[path]}"
        )
    if files.get(path) is None:
        return NoUpdate(
            "missing_file",
            f"{path} (a target of {deployment.name}) does not exist on the default branch "
            "(a file under a symbolically linked directory counts as missing: "
            "the bot does not follow symbolic links)",
        )
    return None


def _current_version(edits: Sequence[TargetEdit]) -> str | None:
    for edit in edits:
        if edit.format in TAG_FORMATS:
            return version_from_value(edit.old_value, edit.format)
    return None


def _wants_digest(targets: Sequence[Target]) -> bool:
    return any(target.format in DIGEST_FORMATS for target in targets)


def _overrule(
    decision: Decision,
    *,
    explicit: bool,
    version: str,
    previous: str | None,
    edits: Sequence[TargetEdit],
) -> str | NoUpdate:
    """A refused decision, unless it is the same version with targets still to bring in line, or an
    explicit deploy past the policy/ordering rules. Returns the reason to proceed, or the NoUpdate."""
    if decision.code == "accepted":  # never passed in (callers overrule refusals only); narrows the code
        return decision.reason
    if decision.code == "already_current":
        behind = [edit for edit in edits if edit.changed]
        if not behind:
            return NoUpdate("already_current", decision.reason, previous_version=previous)
        if any(edit.format in DIGEST_FORMATS for edit in behind):
            return f"{version} is current, and its image digest changed"
        places = ", ".join(f"{edit.file} ({edit.location})" for edit in behind)
        return f"{version} is current, but {places} still held another value"
    overridable = ("no_match", "older_than_current", "not_newer_than_quarantined")
    if explicit and decision.code in overridable:
        return f"explicit deploy of {version} (the bot alone would not: {decision.reason})"
    return NoUpdate(decision.code, decision.reason, previous_version=previous)
