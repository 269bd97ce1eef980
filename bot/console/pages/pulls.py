"""The local forge's pull requests (``GITOPS_BOT_FORGE=local``): a page per pull request, where the
bot's links point, and the JSON API ``gitops-bot pr`` uses. Every route is a 404 on other forges.

A person acts here as a reviewer on GitHub would: comment (``/gitops plan`` runs a plan), approve,
merge (the deployment is recorded and its canary starts), close. Each reaches the bot as the
event GitHub would have sent. Actions need the console's action rights (CSRF from a form; a
bearer token or the ``X-GitOps-Bot-Client`` header from a program).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.adapters.forge.port import ForgeError, ForgeNotFound, MergeMethod
from bot.console.render import Console, console_of
from bot.console.security import Viewer, require_action, require_viewer

if TYPE_CHECKING:
    from bot.adapters.forge.local.forge import LocalForge
    from bot.services import Services

STATES = ("open", "closed", "merged", "all")
ACTIONS = ("comment", "approve", "merge", "close")  # what a person does to a pull request


def pull_json(forge: LocalForge, repo: str, number: int, *, full: bool) -> dict[str, Any]:
    """A pull request as the API answers it; ``full`` adds statuses, reviews and comments."""
    row = forge.store.thread(repo, number)
    if row is None or row.kind != "pull_request":
        raise ForgeNotFound(f"{repo} has no pull request #{number}", status=404)
    pull = forge.pull_request_of(row)
    body: dict[str, Any] = {
        "number": pull.number, "title": pull.title, "state": row.state, "author": pull.author,
        "head": pull.head_ref, "base": pull.base_ref, "head_sha": pull.head_sha,
        "merge_sha": row.merge_sha, "merged_by": row.merged_by, "mergeable": pull.mergeable,
        "draft": pull.draft, "labels": list(pull.labels), "html_url": pull.html_url,
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }  # fmt: skip
    if full:
        body["body"] = pull.body
        body["statuses"] = [
            {"context": s.context, "state": s.state, "description": s.description, "target_url": s.target_url}
            for s in forge.store.statuses(repo, pull.head_sha)
        ]
        body["reviews"] = [{"author": r.author, "state": r.state} for r in forge.store.reviews(repo, number)]
        body["comments"] = [
            {"id": c.id, "author": c.author, "body": c.body, "created_at": c.created_at.isoformat()}
            for c in forge.store.comments(repo, number)
        ]
    return body


def _local(services: Services) -> LocalForge | None:
    return services.local() if services.settings.effective_forge == "local" else None


def _not_here(services: Services, repo: str) -> JSONResponse | None:
    forge = _local(services)
    if forge is None:
        return JSONResponse({"detail": "the forge is not local (GITOPS_BOT_FORGE)"}, status_code=404)
    if not forge.repos.exists(repo):
        return JSONResponse({"detail": f"no repository {repo}"}, status_code=404)
    return None


def act(services: Services, viewer: Viewer, repo: str, number: int, what: str, text: str) -> dict[str, Any]:
    """``comment``, ``approve``, ``merge`` or ``close`` pull request ``number`` as ``viewer``."""
    forge = services.local()
    pull = forge.get_pull_request(repo, number)
    if what == "comment":
        written = forge.create_comment(repo, number, text, author=viewer.login)
        return {"comment": {"id": written.id, "html_url": written.html_url}}
    if what == "approve":
        forge.approve(repo, number, by=viewer.login)
        return {"approved_by": viewer.login}
    if what == "close":
        forge.close_pull_request(repo, number, by=viewer.login)
        return {"state": "closed"}
    method = MergeMethod(text) if text in {m.value for m in MergeMethod} else MergeMethod.MERGE
    merged = forge.merge_pull_request(
        repo, number, expected_head_sha=pull.head_sha, method=method, by=viewer.login
    )
    return {"merged": merged.merged, "sha": merged.sha, "refusal": merged.refusal, "message": merged.message}


# The local forge's repositories, as its API names them.
LOCAL_REPO = "/api/local/repos/{owner}/{name}"
router = APIRouter()


@router.get("/api/local/repos")
async def api_repos(
    viewer: Viewer = Depends(require_viewer), console: Console = Depends(console_of)
) -> Response:
    services = console.services
    forge = _local(services)
    if forge is None:
        return JSONResponse({"detail": "the forge is not local (GITOPS_BOT_FORGE)"}, status_code=404)
    return JSONResponse(await run_in_threadpool(forge.repos.repos))


@router.get(f"{LOCAL_REPO}/pulls")
async def api_pulls(
    owner: str,
    name: str,
    state: str = "open",
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    services = console.services
    repo = f"{owner}/{name}"
    if (refused := await run_in_threadpool(_not_here, services, repo)) is not None:
        return refused
    if state not in STATES:
        return JSONResponse({"detail": f"state must be one of {', '.join(STATES)}"}, status_code=400)

    def listing() -> list[dict[str, Any]]:
        forge = services.local()
        rows = forge.store.threads(repo, kind="pull_request", state=None if state == "all" else state)
        return [pull_json(forge, repo, row.number, full=False) for row in rows]

    return JSONResponse(await run_in_threadpool(listing))


@router.get(f"{LOCAL_REPO}/issues")
async def api_issues(
    owner: str, name: str, viewer: Viewer = Depends(require_viewer), console: Console = Depends(console_of)
) -> Response:
    """The issues the bot opened (drift), newest first: the local forge has no page for them."""
    services = console.services
    repo = f"{owner}/{name}"
    if (refused := await run_in_threadpool(_not_here, services, repo)) is not None:
        return refused
    rows = await run_in_threadpool(services.local().store.threads, repo, kind="issue")
    return JSONResponse([
        {"number": row.number, "title": row.title, "state": row.state, "body": row.body,
         "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}
        for row in rows
    ])  # fmt: skip


@router.get(LOCAL_REPO + "/pulls/{number}")
async def api_pull(
    owner: str,
    name: str,
    number: int,
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    services = console.services
    repo = f"{owner}/{name}"
    if (refused := await run_in_threadpool(_not_here, services, repo)) is not None:
        return refused
    try:
        return JSONResponse(await run_in_threadpool(pull_json, services.local(), repo, number, full=True))
    except ForgeNotFound as missing:
        return JSONResponse({"detail": str(missing)}, status_code=404)


@router.get(LOCAL_REPO + "/pulls/{number}/diff")
async def api_diff(
    owner: str,
    name: str,
    number: int,
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    services = console.services
    repo = f"{owner}/{name}"
    if (refused := await run_in_threadpool(_not_here, services, repo)) is not None:
        return refused
    try:
        return PlainTextResponse(await run_in_threadpool(services.local().diff, repo, number))
    except ForgeNotFound as missing:
        return JSONResponse({"detail": str(missing)}, status_code=404)


@router.post(LOCAL_REPO + "/pulls/{number}/{what}")
async def api_act(
    owner: str, name: str, number: int, what: str, viewer: Viewer = Depends(require_action),
    payload: dict[str, Any] | None = Body(None), console: Console = Depends(console_of),
) -> Response:  # fmt: skip
    services = console.services
    repo = f"{owner}/{name}"
    if (refused := await run_in_threadpool(_not_here, services, repo)) is not None:
        return refused
    verbs = {"comments": "comment", "approve": "approve", "merge": "merge", "close": "close"}
    if what not in verbs:
        return JSONResponse({"detail": f"no such action: {what} ({', '.join(verbs)})"}, status_code=404)
    text = str((payload or {}).get("body") or (payload or {}).get("method") or "")
    if verbs[what] == "comment" and not text.strip():
        return JSONResponse({"detail": "a comment needs a body"}, status_code=400)
    try:
        answer = await run_in_threadpool(act, services, viewer, repo, number, verbs[what], text)
    except ForgeNotFound as missing:
        return JSONResponse({"detail": str(missing)}, status_code=404)
    except ForgeError as error:
        return JSONResponse({"detail": str(error)}, status_code=422)
    status = 409 if answer.get("merged") is False else 200
    return JSONResponse(answer, status_code=status)


@router.get("/pulls/{owner}/{name}/{number}", response_class=HTMLResponse)
async def pull_page(
    request: Request,
    owner: str,
    name: str,
    number: int,
    viewer: Viewer = Depends(require_viewer),
    console: Console = Depends(console_of),
) -> Response:
    services = console.services
    repo = f"{owner}/{name}"
    if await run_in_threadpool(_not_here, services, repo) is not None:
        return await console.page(
            request, "pull.html.j2", title="No such pull request", pull=None, status_code=404
        )

    def read() -> tuple[dict[str, Any], str] | None:
        try:
            forge = services.local()
            return pull_json(forge, repo, number, full=True), forge.diff(repo, number)
        except ForgeNotFound:
            return None

    found = await run_in_threadpool(read)
    if found is None:
        return await console.page(
            request, "pull.html.j2", title="No such pull request", pull=None, status_code=404
        )
    pull, diff = found
    return await console.page(
        request, "pull.html.j2", title=f"{repo}#{number}: {pull['title']}", pull=pull, repo=repo,
        diff=diff, done=request.query_params.get("done"),
    )  # fmt: skip


@router.post("/pulls/{owner}/{name}/{number}/{what}")
async def pull_action(
    request: Request,
    owner: str,
    name: str,
    number: int,
    what: str,
    viewer: Viewer = Depends(require_action),
    console: Console = Depends(console_of),
) -> Response:
    services = console.services
    repo = f"{owner}/{name}"
    if what not in ACTIONS or await run_in_threadpool(_not_here, services, repo) is not None:
        return JSONResponse({"detail": "no such action"}, status_code=404)
    form = await request.form()
    text = str(form.get("body") or "")
    if what == "comment" and not text.strip():
        return RedirectResponse(f"/pulls/{repo}/{number}?done=empty", status_code=303)
    try:
        answer = await run_in_threadpool(act, services, viewer, repo, number, what, text)
    except ForgeError:
        return RedirectResponse(f"/pulls/{repo}/{number}?done=failed", status_code=303)
    done = "refused" if answer.get("merged") is False else what
    return RedirectResponse(f"/pulls/{repo}/{number}?done={done}", status_code=303)
