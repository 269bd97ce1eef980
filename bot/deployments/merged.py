"""What a merged pull request deployed (pure): the configured deployments whose targets it changed,
and the version now written in them. Git is the truth: the values are read from the merge commit
by the caller (:mod:`bot.deployments.record`) and handed in as text.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from bot.config.schema import RepoConfig, Target
from bot.edits import EditError, apply_edit

_PROBE = "gitops-bot-probe-value"


@dataclass(frozen=True)
class TouchedDeployment:
    """A deployment whose target files a merged pull request changed, and what it now runs."""

    name: str
    version: str
    previous_version: str | None
    digest: str | None
    files: tuple[str, ...]


def read_target_value(path: str, text: str, target: Target | str) -> str | None:
    """The string at the target's key/variable in ``text`` (the file at ``path``), or None.

    Reading goes through the editors of :mod:`bot.edits` on purpose: they report the value they
    would replace (``old_value``), so "where the version is written" means exactly the same thing
    for reading a merge as for writing an update. Nothing is written. None when the key is missing
    or the value is not a plain string/number.
    """
    try:
        return apply_edit(path, text, target, _PROBE).old_value
    except EditError:
        return None


def split_written_value(target_format: str, value: str) -> tuple[str, str | None]:
    """(version, digest) from what a target holds in its ``format`` (see ``bot.images``).

    ``tag`` → (``1.2.3``, None); ``digest`` → (``sha256:…``, ``sha256:…``); ``tag@digest`` →
    (``1.2.3``, ``sha256:…``); ``image`` → the tag after the last ``:`` of the last path part;
    ``image@digest`` → both.
    """
    text = value.strip()
    if target_format == "digest":
        return text, text
    digest: str | None = None
    if "@" in text:
        text, _, digest = text.partition("@")
    if target_format in ("image", "image@digest"):
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            text = last.rsplit(":", 1)[1]
        elif digest is not None:
            return digest, digest
    return text, digest or None


def deployments_touched(
    config: RepoConfig,
    changed_files: Collection[str],
    read_merged: Callable[[str], str | None],
    read_before: Callable[[str], str | None],
) -> list[TouchedDeployment]:
    """Deployments whose targets the merge changed, with the version now in git.

    ``read_merged(path)``/``read_before(path)`` return the file's text at the merge commit and at
    its first parent (None when absent). A deployment counts when one of its target files is among
    ``changed_files`` and the version read from its targets differs from the one before: a PR that
    edits a values file without changing the version deploys nothing new. The version comes from
    the first target that holds one (targets of one deployment carry the same version).
    """
    changed = set(changed_files)
    cache_merged: dict[str, str | None] = {}
    cache_before: dict[str, str | None] = {}

    def merged(path: str) -> str | None:
        if path not in cache_merged:
            cache_merged[path] = read_merged(path)
        return cache_merged[path]

    def before(path: str) -> str | None:
        if path not in cache_before:
            cache_before[path] = read_before(path)
        return cache_before[path]

    touched: list[TouchedDeployment] = []
    for deployment in config.deployments:
        files = tuple(dict.fromkeys(t.file for t in deployment.targets if t.file in changed))
        if not files:
            continue
        now = version_in(deployment.targets, merged)
        if now is None:
            continue
        was = version_in(deployment.targets, before)
        if was is not None and was[0] == now[0] and was[1] == now[1]:
            continue
        touched.append(
            TouchedDeployment(
                name=deployment.name,
                version=now[0],
                previous_version=None if was is None else was[0],
                digest=now[1],
                files=files,
            )
        )
    return touched


def version_in(targets: Sequence[Target], read: Callable[[str], str | None]) -> tuple[str, str | None] | None:
    """(version, digest) the targets hold, ``read(path)`` giving a file's text (None: absent); None
    when no target holds one. The first target with a version names it (the console's history of a
    deployment reads each commit this way too)."""
    version: str | None = None
    digest: str | None = None
    for target in targets:
        text = read(target.file)
        if text is None:
            continue
        value = read_target_value(target.file, text, target)
        if not value:
            continue
        found, found_digest = split_written_value(target.format, value)
        digest = digest or found_digest
        if version is None and target.format != "digest":
            version = found
    if version is None:
        version = digest  # digest-only targets: the digest is the version
    return None if version is None else (version, digest)
