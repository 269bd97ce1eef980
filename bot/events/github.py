"""GitHub webhooks → ``ParsedEvent``.

Acted on: ``issue_comment`` created on a pull request, every ``pull_request`` action,
``push``, and container publications from ``package`` / ``registry_package``. ``ping``
and every other event are returned as ignored so the route can store and answer them.

Container publications are normalised to the registry routing key
``("registry", "image", "pushed")`` with the image reference as dedupe key: one handler
serves every registry, and GitHub's twin ``package`` and ``registry_package`` deliveries
for the same publication collapse into one event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from bot.events.fields import (
    load_json,
    load_json_object,
    lower_keys,
    optional_bool,
    optional_int,
    optional_list,
    optional_object,
    optional_str,
    parse_time,
    require_int,
    require_object,
    require_str,
)
from bot.events.images import (
    bounded_key,
    image_pushed_event,
    normalise_registry_host,
    normalise_repository,
    split_image_reference,
)
from bot.events.model import (
    ImagePushed,
    MalformedEvent,
    ParsedEvent,
    PullRequestChanged,
    PullRequestComment,
    Push,
)

SOURCE = "github"
# GitHub documents at most this many commits in a push payload.
_PUSH_COMMIT_LIMIT = 2048
_GHCR = "ghcr.io"


def parse_github(headers: Mapping[str, str], body: bytes) -> list[ParsedEvent]:
    """Parse one verified GitHub delivery. ``headers`` may use any letter case."""
    lowered = lower_keys(headers)
    event = lowered.get("x-github-event", "").strip()
    if not event:
        raise MalformedEvent("GitHub request has no X-GitHub-Event header")
    delivery_id = lowered.get("x-github-delivery", "").strip()
    if not delivery_id:
        raise MalformedEvent("GitHub request has no X-GitHub-Delivery header")
    payload = _load_payload(lowered.get("content-type", ""), body)
    action = payload.get("action") if isinstance(payload.get("action"), str) else None

    def ignored(reason: str, dedupe_key: str | None = None) -> list[ParsedEvent]:
        return [
            ParsedEvent(
                source=SOURCE,
                event=event,
                action=action,
                delivery_id=delivery_id,
                dedupe_key=dedupe_key or delivery_id,
                payload=payload,
                domain=None,
                ignored_reason=reason,
            )
        ]

    if event == "ping":
        return ignored("ping")
    if event in ("package", "registry_package"):
        return _package(event, action, delivery_id, payload, ignored)
    dedupe_key = comment_dedupe_key(action, payload) if event == "issue_comment" else None
    build = _BUILDERS.get(event)
    if build is None:
        return ignored(f"GitHub '{event}' events are not acted on")
    outcome = build(payload)
    if isinstance(outcome, str):
        return ignored(outcome, dedupe_key)
    return [
        ParsedEvent(
            source=SOURCE,
            event=event,
            action=action,
            delivery_id=delivery_id,
            dedupe_key=dedupe_key or delivery_id,
            payload=payload,
            domain=outcome,
        )
    ]


def comment_dedupe_key(action: str | None, payload: Mapping[str, Any]) -> str | None:
    """What makes an ``issue_comment`` delivery new: the comment, not the delivery id.

    A signed comment body replayed under a fresh ``X-GitHub-Delivery`` must not run its
    command twice, so ``created`` is keyed on the comment id and ``edited`` on the comment
    id and its ``updated_at`` (each edit is new, a replay of one edit is not). None when
    the payload names no comment id; the delivery id is used then.
    """
    comment = payload.get("comment")
    if not isinstance(comment, dict):
        return None
    comment_id = comment.get("id")
    if isinstance(comment_id, bool) or not isinstance(comment_id, int) or not action:
        return None
    repository = payload.get("repository")
    repo = repository.get("full_name") if isinstance(repository, dict) else None
    # Comment ids are unique per GitHub instance; the repository keeps two instances apart.
    key = f"issue_comment:{repo if isinstance(repo, str) else ''}:{comment_id}:{action}"
    if action == "edited":
        updated_at = comment.get("updated_at")
        if not isinstance(updated_at, str) or not updated_at:
            return None
        key += f":{updated_at}"
    return bounded_key(key)


def _load_payload(content_type: str, body: bytes) -> dict[str, Any]:
    # A webhook configured with "application/x-www-form-urlencoded" sends the JSON in a
    # ``payload`` form field; accept it rather than fail on a setting users rarely notice.
    if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise MalformedEvent("GitHub form body is not UTF-8 text") from exc
        values = fields.get("payload")
        if not values:
            raise MalformedEvent("GitHub form body has no 'payload' field")
        data = load_json(values[0].encode("utf-8"), "GitHub 'payload' form field")
        if not isinstance(data, dict):
            raise MalformedEvent("GitHub 'payload' form field must hold a JSON object")
        return data
    return load_json_object(body, "GitHub webhook body")


def _repo_full_name(payload: Mapping[str, Any], where: str) -> str:
    repository = require_object(payload, "repository", where)
    return require_str(repository, "full_name", f"{where}: repository")


def _installation_id(payload: Mapping[str, Any], where: str) -> int | None:
    installation = optional_object(payload, "installation", where)
    if installation is None:
        return None
    return optional_int(installation, "id", f"{where}: installation")


def _login(container: Mapping[str, Any], key: str, where: str) -> str:
    user = require_object(container, key, where)
    return require_str(user, "login", f"{where}: {key}")


def _issue_comment(payload: Mapping[str, Any]) -> PullRequestComment | str:
    where = "issue_comment event"
    action = require_str(payload, "action", where)
    if action != "created":
        return f"issue_comment action '{action}' is not acted on (only 'created')"
    issue = require_object(payload, "issue", where)
    if issue.get("pull_request") is None:
        return "comment is on an issue, not a pull request"
    comment = require_object(payload, "comment", where)
    comment_where = f"{where}: comment"
    user = require_object(comment, "user", comment_where)
    return PullRequestComment(
        repo=_repo_full_name(payload, where),
        pr_number=require_int(issue, "number", f"{where}: issue"),
        comment_id=require_int(comment, "id", comment_where),
        comment_url=require_str(comment, "url", comment_where),
        html_url=require_str(comment, "html_url", comment_where),
        author=require_str(user, "login", f"{comment_where}.user"),
        author_type=optional_str(user, "type", f"{comment_where}.user"),
        author_association=optional_str(comment, "author_association", comment_where) or "NONE",
        body=require_str(comment, "body", comment_where, allow_empty=True),
        installation_id=_installation_id(payload, where),
        created_at=parse_time(comment.get("created_at"), f"{comment_where}.created_at"),
    )


def _pull_request(payload: Mapping[str, Any]) -> PullRequestChanged:
    where = "pull_request event"
    action = require_str(payload, "action", where)
    pr = require_object(payload, "pull_request", where)
    pr_where = f"{where}: pull_request"
    head = require_object(pr, "head", pr_where)
    base = require_object(pr, "base", pr_where)
    head_where, base_where = f"{pr_where}.head", f"{pr_where}.base"
    base_repo = require_object(base, "repo", base_where)
    base_repo_name = require_str(base_repo, "full_name", f"{base_where}.repo")
    # A deleted fork leaves ``head.repo`` null; treat it as a fork so nothing trusts it.
    head_repo = optional_object(head, "repo", head_where)
    head_repo_name = require_str(head_repo, "full_name", f"{head_where}.repo") if head_repo else None
    if head_repo is None:
        is_fork = True
    elif isinstance(head_repo.get("id"), int) and isinstance(base_repo.get("id"), int):
        is_fork = head_repo["id"] != base_repo["id"]
    else:
        is_fork = (head_repo_name or "").lower() != base_repo_name.lower()
    labels = []
    for index, label in enumerate(optional_list(pr, "labels", pr_where)):
        if not isinstance(label, dict):
            raise MalformedEvent(f"{pr_where}.labels[{index}] must be an object")
        labels.append(require_str(label, "name", f"{pr_where}.labels[{index}]"))
    repository = require_object(payload, "repository", where)
    return PullRequestChanged(
        action=action,
        repo=require_str(repository, "full_name", f"{where}: repository"),
        number=require_int(pr, "number", pr_where),
        title=require_str(pr, "title", pr_where, allow_empty=True),
        author=_login(pr, "user", pr_where),
        head_sha=require_str(head, "sha", head_where),
        head_ref=require_str(head, "ref", head_where),
        head_repo=head_repo_name,
        base_ref=require_str(base, "ref", base_where),
        base_sha=require_str(base, "sha", base_where),
        is_fork=is_fork,
        merged=optional_bool(pr, "merged", pr_where),
        merge_commit_sha=optional_str(pr, "merge_commit_sha", pr_where),
        draft=optional_bool(pr, "draft", pr_where),
        labels=tuple(labels),
        html_url=require_str(pr, "html_url", pr_where),
        installation_id=_installation_id(payload, where),
        default_branch=optional_str(repository, "default_branch", f"{where}: repository"),
    )


def _push(payload: Mapping[str, Any]) -> Push:
    where = "push event"
    repository = require_object(payload, "repository", where)
    commits = optional_list(payload, "commits", where)
    changed: set[str] = set()
    for index, commit in enumerate(commits):
        commit_where = f"{where}: commits[{index}]"
        if not isinstance(commit, dict):
            raise MalformedEvent(f"{commit_where} must be an object")
        for key in ("added", "modified", "removed"):
            for path in optional_list(commit, key, commit_where):
                if not isinstance(path, str):
                    raise MalformedEvent(f"{commit_where}.{key} must hold file paths (strings)")
                changed.add(path)
    pusher = optional_object(payload, "pusher", where)
    return Push(
        repo=require_str(repository, "full_name", f"{where}: repository"),
        ref=require_str(payload, "ref", where),
        before=require_str(payload, "before", where),
        after=require_str(payload, "after", where),
        default_branch=optional_str(repository, "default_branch", f"{where}: repository"),
        pusher=optional_str(pusher, "name", f"{where}: pusher") if pusher else None,
        installation_id=_installation_id(payload, where),
        changed_files=tuple(sorted(changed)),
        changed_files_complete=len(commits) < _PUSH_COMMIT_LIMIT,
        forced=optional_bool(payload, "forced", where),
        deleted=optional_bool(payload, "deleted", where),
        created=optional_bool(payload, "created", where),
    )


_BUILDERS: Mapping[str, Callable[[Mapping[str, Any]], Any]] = {
    "issue_comment": _issue_comment,
    "pull_request": _pull_request,
    "push": _push,
}


def _package(
    event: str,
    action: str | None,
    delivery_id: str,
    payload: dict[str, Any],
    ignored: Callable[[str], list[ParsedEvent]],
) -> list[ParsedEvent]:
    where = f"{event} event"
    package = require_object(payload, event, where)
    if action not in ("published", "updated"):
        return ignored(f"{event} action '{action}' is not acted on (only 'published' and 'updated')")
    package_where = f"{where}: {event}"
    package_type = optional_str(package, "package_type", package_where)
    if (package_type or "").lower() != "container":
        return ignored(f"package type '{package_type}' is not a container image")
    version = require_object(package, "package_version", package_where)
    version_where = f"{package_where}.package_version"
    metadata = optional_object(version, "container_metadata", version_where) or {}
    tag_info = optional_object(metadata, "tag", f"{version_where}.container_metadata") or {}
    tag = optional_str(tag_info, "name", f"{version_where}.container_metadata.tag")
    digest = optional_str(tag_info, "digest", f"{version_where}.container_metadata.tag")
    if digest is None:
        # The version's name is the manifest digest for container packages.
        for key in ("name", "version"):
            candidate = optional_str(version, key, version_where)
            if candidate and candidate.startswith("sha256:"):
                digest = candidate
                break
    if digest is None and tag is None:
        raise MalformedEvent(f"{version_where} has neither a container tag nor a digest")
    registry, repository = _package_image(package, version, package_where)
    manifest = optional_object(metadata, "manifest", f"{version_where}.container_metadata") or {}
    sender = optional_object(payload, "sender", where)
    image = ImagePushed(
        registry=registry,
        repository=repository,
        tag=tag,
        digest=digest,
        media_type=optional_str(manifest, "media_type", f"{version_where}.container_metadata.manifest"),
        format="github-package",
        event_id=delivery_id,
        pushed_at=parse_time(version.get("created_at"), f"{version_where}.created_at")
        or parse_time(package.get("updated_at"), f"{package_where}.updated_at"),
        actor=optional_str(sender, "login", f"{where}: sender") if sender else None,
    )
    return [image_pushed_event(image, delivery_id=delivery_id, payload=payload)]


def _package_image(package: Mapping[str, Any], version: Mapping[str, Any], where: str) -> tuple[str, str]:
    package_url = optional_str(version, "package_url", f"{where}.package_version")
    if package_url:
        reference = split_image_reference(package_url)
        return reference.registry, reference.repository
    # No package_url: the owner and name make the path; the registry URL gives the host.
    name = require_str(package, "name", where)
    owner = _login(package, "owner", where)
    registry_info = optional_object(package, "registry", where) or {}
    registry_url = optional_str(registry_info, "url", f"{where}.registry")
    host = normalise_registry_host(registry_url) if registry_url else _GHCR
    return host, normalise_repository(host, f"{owner}/{name}")
