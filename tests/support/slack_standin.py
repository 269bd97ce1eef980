"""A Slack Web API stand-in: a local HTTP server speaking Slack's wire format.

``POST /api/<method>`` (form or JSON bodies, ``Authorization: Bearer xoxb-…``) answers
``{"ok": true, …}`` or ``{"ok": false, "error": "…"}`` like slack.com; ``POST /respond/<id>``
plays a slash command's ``response_url`` (answers ``ok`` as text). Every call is recorded.
``fail_next(method, status=429, retry_after=1)`` or ``fail_next(method, error="channel_not_found")``
injects failures; ``method`` is a Web API method or ``"respond"``.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

CHANNEL_IDS = {"#ml-deploys": "C0MLDEPLOY", "ml-deploys": "C0MLDEPLOY"}


@dataclass(frozen=True)
class Call:
    method: str  # "chat.postMessage", "chat.update", "respond", …
    body: dict[str, Any]
    path: str


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: float | None


class SlackStandIn:
    def __init__(self, token: str = "xoxb-standin") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel id, ts) → latest message
        self._failures: dict[str, list[_Failure]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll: shutdown() waits for serve_forever to look, 0.5 s by default, at every teardown.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="slack-standin", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/respond/{name}"

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self, method: str, *, status: int = 200, error: str | None = None, retry_after: float | None = None
    ) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(status, error, retry_after))

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    # -- the server ------------------------------------------------------------------------------

    def _answer(
        self, method: str, path: str, body: dict[str, Any], authorised: bool
    ) -> tuple[int, dict, Any]:
        with self._lock:
            self.calls.append(Call(method, body, path))
            queued = self._failures.get(method) or []
            failure = queued.pop(0) if queued else None
        if failure is not None:
            headers = (
                {"Retry-After": str(int(failure.retry_after))} if failure.retry_after is not None else {}
            )
            if method == "respond":
                return failure.status, headers, failure.error or "rate_limited"
            return failure.status, headers, {"ok": False, "error": failure.error or "ratelimited"}
        if method == "respond":
            return 200, {}, "ok"
        if not authorised:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            channel = str(body.get("channel") or "")
            if not channel:
                return 200, {}, {"ok": False, "error": "channel_not_found"}
            channel_id = CHANNEL_IDS.get(channel, channel)
            if method == "chat.postEphemeral":
                return 200, {}, {"ok": True, "message_ts": self._next_ts()}
            if method == "chat.update":
                key = (channel_id, str(body.get("ts")))
                if key not in self.messages:
                    return 200, {}, {"ok": False, "error": "message_not_found"}
                self.messages[key] = {**self.messages[key], **body}
                return 200, {}, {"ok": True, "channel": channel_id, "ts": key[1], "text": body.get("text")}
            ts = self._next_ts()
            self.messages[(channel_id, ts)] = {**body, "ts": ts}
            return 200, {}, {"ok": True, "channel": channel_id, "ts": ts, "message": {**body, "ts": ts}}
        if method == "auth.test":
            return 200, {}, {"ok": True, "user_id": "UBOT", "team_id": "T1"}
        return 200, {}, {"ok": False, "error": "unknown_method"}

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                content_type = self.headers.get("Content-Type", "")
                if "json" in content_type:
                    body = json.loads(raw or b"{}")
                else:
                    body = dict(parse_qsl(raw.decode("utf-8")))
                    for key in ("blocks", "attachments"):
                        if isinstance(body.get(key), str):
                            body[key] = json.loads(body[key])
                if self.path.startswith("/respond/"):
                    method = "respond"
                elif self.path.startswith("/api/"):
                    method = self.path[len("/api/") :].split("?")[0]
                else:
                    self.send_error(404)
                    return
                bearer = self.headers.get("Authorization", "")
                authorised = bearer == f"Bearer {standin.token}" or body.get("token") == standin.token
                status, headers, answer = standin._answer(method, self.path, body, authorised)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                ctype = "text/plain" if isinstance(answer, str) else "application/json; charset=utf-8"
                self.send_header("Content-Type", ctype)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
