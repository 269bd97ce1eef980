"""``gitops-bot pr``: the local forge's pull requests from a terminal, through the running bot
(``GITOPS_BOT_URL``; the console token from ``.env`` when sign-in is by token).

``list``, ``show N``, ``diff N``, ``comment N TEXT``, ``approve N``, ``merge N``, ``close N``. A bot
that cannot be reached, or a pull request that does not exist, is one line saying what to do
(exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.adapters.forge.local.seed import EXAMPLE_REPO
from bot.cli_settings import settings_or_exit
from bot.settings import Settings

ACTIONS = ("list", "show", "diff", "comment", "approve", "merge", "close")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pr = commands.add_parser(
        "pr",
        help="the local forge's pull requests: list, show, diff, comment, approve, merge, close",
        description="Pull requests of the local forge (GITOPS_BOT_FORGE=local), through the running bot.",
    )
    pr.add_argument("action", choices=ACTIONS, help="what to do")
    pr.add_argument("number", nargs="?", type=int, help="the pull request's number (all but list)")
    pr.add_argument("text", nargs="?", help="the comment (comment), e.g. '/gitops plan'")
    pr.add_argument(
        "--repo", help=f"owner/name (default: the first of GITOPS_BOT_GITOPS_REPOS, else {EXAMPLE_REPO})"
    )
    pr.add_argument(
        "--state", default="open", choices=("open", "closed", "merged", "all"), help="which to list"
    )
    pr.add_argument("--url", help="the bot's address (default: GITOPS_BOT_URL)")
    pr.set_defaults(func=run)


class Failed(Exception):
    """One line for the terminal."""


def run(args: argparse.Namespace) -> int:
    try:
        print(_run(args, settings_or_exit()), end="")
    except Failed as failure:
        print(f"gitops-bot pr: {failure}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> str:
    if args.action != "list" and args.number is None:
        raise Failed(f"`pr {args.action}` needs the pull request's number")
    if args.action == "comment" and not (args.text or "").strip():
        raise Failed("`pr comment N TEXT` needs the comment's text")
    repo = args.repo or (settings.gitops_repos[0] if settings.gitops_repos else EXAMPLE_REPO)
    client = Client((args.url or settings.url).rstrip("/"), settings)
    base = f"/api/local/repos/{repo}/pulls"
    if args.action == "list":
        return list_text(client.get(f"{base}?state={args.state}").json(), repo)
    where = f"{base}/{args.number}"
    if args.action == "show":
        return show_text(client.get(where).json())
    if args.action == "diff":
        return str(client.get(f"{where}/diff").text)
    path = {"comment": "comments", "approve": "approve", "merge": "merge", "close": "close"}[args.action]
    answer = client.post(f"{where}/{path}", {"body": args.text} if args.action == "comment" else {}).json()
    return done_text(args.action, args.number, answer)


class Client:
    def __init__(self, url: str, settings: Settings) -> None:
        if not url.startswith(("http://", "https://")):
            raise Failed(f"{url!r} is not an http(s) URL: fix --url or GITOPS_BOT_URL")
        from bot.console.security import CLIENT_HEADER

        self.url = url
        self.headers = {CLIENT_HEADER: "gitops-bot-pr"}
        if settings.console_token is not None:
            self.headers["Authorization"] = f"Bearer {settings.console_token.get_secret_value()}"

    def get(self, path: str) -> Any:
        return self._send("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        import httpx

        try:
            response = httpx.request(method, self.url + path, json=body, headers=self.headers, timeout=120)
        except httpx.TransportError as exc:
            raise Failed(
                f"cannot reach the bot at {self.url} ({exc or type(exc).__name__}): start it with "
                "`gitops-bot serve` (or `make run`), or point --url or GITOPS_BOT_URL at it"
            ) from None
        if response.status_code == 409:  # a merge that was refused: the answer says why
            return response
        if not response.is_success:
            try:
                detail = response.json().get("detail") or response.text
            except ValueError:
                detail = response.text
            raise Failed(f"{response.status_code}: {str(detail).strip()[:300]}")
        return response


def list_text(pulls: list[dict[str, Any]], repo: str) -> str:
    if not pulls:
        return f"No pull requests in {repo}.\n"
    rows = [f"{'#':>4}  {'state':<7}  {'title':<50}  {'branch':<36}  author"]
    for pull in pulls:
        title, branch = pull["title"][:50], pull["head"][:36]
        rows.append(f"{pull['number']:>4}  {pull['state']:<7}  {title:<50}  {branch:<36}  {pull['author']}")
    return "\n".join(rows) + "\n"


def show_text(pull: dict[str, Any]) -> str:
    lines = [
        f"#{pull['number']} {pull['title']}",
        f"{pull['state']}{' by ' + pull['merged_by'] if pull.get('merged_by') else ''} · "
        f"{pull['head']} → {pull['base']} · {pull['head_sha'][:12]} · opened by {pull['author']}",
        pull["html_url"],
    ]
    for status in pull.get("statuses", []):
        lines.append(f"  check {status['context']}: {status['state']} {status['description']}".rstrip())
    for review in pull.get("reviews", []):
        lines.append(f"  review {review['author']}: {review['state'].lower()}")
    lines += ["", pull.get("body", "").rstrip(), ""]
    for comment in pull.get("comments", []):
        lines += [f"--- {comment['author']} ({comment['created_at']})", comment["body"].rstrip(), ""]
    return "\n".join(lines) + "\n"


def done_text(action: str, number: int, answer: dict[str, Any]) -> str:
    if action == "merge":
        if not answer.get("merged"):
            raise Failed(f"#{number} was not merged: {answer.get('message') or answer.get('refusal')}")
        sha = str(answer.get("sha"))[:12]
        return f"Merged #{number} ({sha}): the bot records the deployment and starts its canary.\n"
    if action == "comment":
        return f"Commented on #{number}: {answer['comment']['html_url']}\n"
    if action == "approve":
        return f"Approved #{number} as {answer['approved_by']}.\n"
    return f"Closed #{number}.\n"
