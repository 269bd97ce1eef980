"""What the locks and Terraform runs pages show, decided without I/O: ages, durations, the JSON of
a run, and the frames of a run's live stream (server-sent events)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.pagination import BadRequest
from bot.terraform.runs_store import RunInfo, RunLine

# The flash a redirect after an action names (``/locks?done=…``): only these are shown.
UNLOCK_OUTCOMES = frozenset({"unlocked", "untold", "gone", "dry_run"})


def age_text(seconds: float) -> str:
    """``42 s``, ``5 min``, ``3 h 12 min``, ``2 d 4 h``: how long, at a glance."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def run_duration(run: RunInfo, now: datetime) -> str:
    """How long the run took, or has been running."""
    return age_text(((run.finished_at or now) - run.started_at).total_seconds())


def run_json(run: RunInfo) -> dict[str, Any]:
    return {
        "id": run.id,
        "repo": run.repo,
        "pull_request": {"number": run.pr_number, "url": run.pr_url},
        "project": run.project or None,
        "dir": run.dir,
        "workspace": run.workspace,
        "command": run.command,
        "head_sha": run.head_sha,
        "status": run.status,
        "outcome": run.outcome,
        "headline": run.headline,
        "requested_by": run.requested_by,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "line_count": run.line_count,
        "truncated": run.truncated,
    }


def line_json(line: RunLine) -> dict[str, Any]:
    return {"seq": line.seq, "step": line.step, "line": line.line}


_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def sse_frame(event: str, data: str, event_id: int | None = None) -> str:
    """One server-sent event. A carriage return inside ``data`` would end the field early (the
    stream's own line breaks): each piece goes in a ``data:`` field, which the browser joins."""
    fields = [f"event: {event}"]
    if event_id is not None:
        fields.append(f"id: {event_id}")
    fields.extend(f"data: {piece}" for piece in _LINE_BREAKS.split(data))
    return "\n".join(fields) + "\n\n"


KEEP_ALIVE = ": keep-alive\n\n"


def parse_after(raw: str | None) -> int:
    """Where a stream or a page of lines starts: the seq of the last line already read (none or
    empty: 0, from the first); a :class:`BadRequest` for anything but a whole number."""
    if raw is None or raw == "":
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise BadRequest(f"after must be a line's seq (a whole number), got {raw[:40]!r}")
    return int(raw)


def safe_href(url: str | None) -> str | None:
    """A link the page may put in ``href``: http(s) only (never ``javascript:`` or ``data:``)."""
    if url and url.startswith(("https://", "http://")):
        return url
    return None
