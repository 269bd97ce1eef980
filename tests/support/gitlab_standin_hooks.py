"""The GitLab stand-in's webhook payloads (`gitlab_standin`): merge request, note, pipeline and push
hooks in the shapes GitLab's documentation records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support import github_standin_git as bare_git

if TYPE_CHECKING:
    from tests.support.gitlab_standin import Note, Project, Pull


def _now() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class HooksMixin:
    """Needs the stand-in's ``project``, ``user_id``, ``emit``, ``base_url``, ``_ids`` and the API's JSON."""

    _ids: Any

    def _hook_project(self, project: Project) -> dict[str, Any]:
        data = self._project_json(project)
        return {
            key: data[key]
            for key in (
                "id",
                "name",
                "path_with_namespace",
                "default_branch",
                "web_url",
                "http_url_to_repo",
                "visibility",
            )
        } | {
            "namespace": data["namespace"]["name"],
            "git_http_url": data["http_url_to_repo"],
            "git_ssh_url": data["ssh_url_to_repo"],
        }

    # -- hook payloads ----------------------------------------------------------------------------

    def _hook_user(self, login: str) -> dict[str, Any]:
        user = self._user_json(login)
        return {
            "id": user["id"],
            "name": user["name"],
            "username": login,
            "avatar_url": None,
            "email": "[REDACTED]",
        }

    def _hook_mr(self, pull: Pull) -> dict[str, Any]:
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        source = self.project(pull.source_project)  # type: ignore[attr-defined]
        data = self.pull_json(pull, full=False)
        return {
            "id": pull.id,
            "iid": pull.number,
            "title": data["title"],
            "description": pull.body,
            "state": data["state"],
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "target_branch": pull.base_ref,
            "source_branch": pull.head_ref,
            "source_project_id": source.id,
            "target_project_id": project.id,
            "author_id": self.user_id(pull.user),
            "draft": pull.draft,
            "work_in_progress": pull.draft,  # type: ignore[attr-defined]
            "merge_status": data["merge_status"],
            "detailed_merge_status": data["detailed_merge_status"],
            "merge_commit_sha": pull.merge_commit_sha,
            "url": data["web_url"],
            "source": self._hook_project(source),
            "target": self._hook_project(project),
            "last_commit": {"id": pull.head_sha, "message": "", "title": "", "timestamp": pull.updated_at},
            "labels": [
                {"id": abs(hash(label)) % 10000, "title": label, "color": "#428BCA", "type": "ProjectLabel"}
                for label in pull.labels
            ],
            "blocking_discussions_resolved": True,
        }

    def emit_pull(
        self,
        pull: Pull,
        action: str,
        actor: str,
        *,
        oldrev: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        attributes = self._hook_mr(pull) | {"action": action}
        if oldrev:
            attributes["oldrev"] = oldrev
        payload = {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": self._hook_user(actor),
            "project": self._hook_project(project),
            "object_attributes": attributes,
            "labels": attributes["labels"],
            "changes": changes or {},
            "repository": {
                "name": project.path.rsplit("/", 1)[-1],
                "url": f"{self.base_url}/{project.path}.git",
                "homepage": f"{self.base_url}/{project.path}",
            },  # type: ignore[attr-defined]
        }
        self.emit("Merge Request Hook", "merge_request", payload)  # type: ignore[attr-defined]

    def emit_note(self, note: Note, pull: Pull, actor: str) -> None:
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        payload = {
            "object_kind": "note",
            "event_type": "note",
            "user": self._hook_user(actor),
            "project_id": project.id,
            "project": self._hook_project(project),
            "object_attributes": {
                "id": note.id,
                "note": note.body,
                "noteable_type": "MergeRequest",
                "author_id": self.user_id(actor),  # type: ignore[attr-defined]
                "created_at": note.created_at,
                "updated_at": note.updated_at,
                "project_id": project.id,
                "system": note.system,
                "noteable_id": pull.id,
                "action": "create",
                "url": f"{self.base_url}/{project.path}/-/merge_requests/{pull.number}#note_{note.id}",  # type: ignore[attr-defined]
            },
            "merge_request": self._hook_mr(pull),
        }
        self.emit("Note Hook", "note", payload)  # type: ignore[attr-defined]

    def emit_pipeline(self, pull: Pull, status: str) -> None:
        project = self.project(pull.repo)  # type: ignore[attr-defined]
        payload = {
            "object_kind": "pipeline",
            "object_attributes": {
                "id": next(self._ids),
                "iid": 1,
                "ref": pull.head_ref,
                "tag": False,
                "sha": pull.head_sha,
                "source": "merge_request_event",
                "status": status,
                "detailed_status": status,
                "stages": ["test"],
            },
            "merge_request": {
                "id": pull.id,
                "iid": pull.number,
                "title": pull.title,
                "source_branch": pull.head_ref,
                "target_branch": pull.base_ref,
                "state": "opened" if pull.state == "open" else "closed",
                "url": f"{self.base_url}/{project.path}/-/merge_requests/{pull.number}",
            },  # type: ignore[attr-defined]
            "user": self._hook_user(pull.user),
            "project": self._hook_project(project),
            "builds": [],
        }
        self.emit("Pipeline Hook", "pipeline", payload)  # type: ignore[attr-defined]

    def push_payload(self, project: Project, old: str, new: str, ref: str, pusher: str) -> dict[str, Any]:
        commits = []
        if new != "0" * 40:
            shas = bare_git.commits_between(
                project.bare, None if old == "0" * 40 else old, new, ref=ref, limit=100
            )
            for sha in shas[-20:]:  # GitLab lists at most 20 commits
                files = (
                    bare_git.changed_files(project.bare, f"{sha}^", sha)
                    if bare_git.resolve(project.bare, f"{sha}^")
                    else []
                )
                commits.append(
                    {
                        "id": sha,
                        "message": "",
                        "title": "",
                        "timestamp": _now(),
                        "added": [f.filename for f in files if f.status == "added"],
                        "modified": [f.filename for f in files if f.status not in ("added", "removed")],
                        "removed": [f.filename for f in files if f.status == "removed"],
                    }
                )
            total = len(shas)
        else:
            total = 0
        return {
            "object_kind": "push",
            "event_name": "push",
            "before": old,
            "after": new,
            "ref": ref,
            "checkout_sha": None if new == "0" * 40 else new,
            "user_username": pusher,
            "user_name": pusher.title(),
            "user_id": self.user_id(pusher),
            "project_id": project.id,
            "project": self._hook_project(project),  # type: ignore[attr-defined]
            "commits": commits,
            "total_commits_count": total,
        }
