"""What the locks and runs pages show, and where a command's commit status links (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.console.terraform_view import age_text, parse_after, run_duration, run_json, safe_href, sse_frame
from bot.pagination import BadRequest
from bot.terraform.projects import ProjectTarget
from bot.terraform.results import ProjectResult
from bot.terraform.runs import console_url, results_link, run_urls, status_link
from bot.terraform.runs_store import RunInfo

STARTED = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
PUBLIC = "https://gitops.example.com"


def run(**changes: object) -> RunInfo:
    values: dict[str, object] = {
        "id": 7, "repo": "acme/infra", "pr_number": 12, "pr_url": "https://github.com/acme/infra/pull/12",
        "project": "", "dir": "terraform/staging", "workspace": "default", "command": "plan",
        "head_sha": "c" * 40, "status": "running", "requested_by": "dev", "started_at": STARTED,
        "finished_at": None, "outcome": None, "headline": "", "line_count": 3, "truncated": False,
    }  # fmt: skip
    values.update(changes)
    return RunInfo(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-3, "0 s"), (0, "0 s"), (59.9, "59 s"), (60, "1 min"), (3599, "59 min"), (3600, "1 h"),
        (3600 + 12 * 60, "1 h 12 min"), (86400, "1 d"), (2 * 86400 + 4 * 3600 + 59, "2 d 4 h"),
    ],
)  # fmt: skip
def test_age_text(seconds: float, shown: str) -> None:
    assert age_text(seconds) == shown


def test_a_run_takes_until_it_ends_or_until_now() -> None:
    now = STARTED + timedelta(minutes=3)
    assert run_duration(run(), now) == "3 min"
    assert run_duration(run(finished_at=STARTED + timedelta(seconds=41), status="succeeded"), now) == "41 s"
    shown = run_json(run())
    assert shown["project"] is None and shown["pull_request"] == {"number": 12, "url": run().pr_url}
    assert shown["started_at"] == "2026-12-14T09:00:00+00:00" and shown["finished_at"] is None


@pytest.mark.parametrize(
    ("event", "data", "event_id", "frame"),
    [
        ("line", "Plan: 1 to add", 3, "event: line\nid: 3\ndata: Plan: 1 to add\n\n"),
        ("line", "", 4, "event: line\nid: 4\ndata: \n\n"),
        # A carriage return would end the field early: each piece is a data field of its own.
        ("line", "50%\r100%", 5, "event: line\nid: 5\ndata: 50%\ndata: 100%\n\n"),
        ("line", "a\r\nb\nc", None, "event: line\ndata: a\ndata: b\ndata: c\n\n"),
        ("end", "succeeded", None, "event: end\ndata: succeeded\n\n"),
    ],
)
def test_sse_frames(event: str, data: str, event_id: int | None, frame: str) -> None:
    assert sse_frame(event, data, event_id) == frame


@pytest.mark.parametrize(("raw", "after"), [(None, 0), ("", 0), ("0", 0), ("41", 41)])
def test_where_lines_start(raw: str | None, after: int) -> None:
    assert parse_after(raw) == after


@pytest.mark.parametrize("raw", ["-1", "x", "1.5", "١٢", "9" * 10])
def test_where_lines_start_refuses_anything_else(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_after(raw)


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://github.com/acme/infra/pull/1", "https://github.com/acme/infra/pull/1"),
        ("http://ghe.local/acme/infra/pull/1", "http://ghe.local/acme/infra/pull/1"),
        ("javascript:alert(1)", None), ("data:text/html,x", None), ("", None), (None, None),
    ],
)  # fmt: skip
def test_only_web_links_are_linked(url: str | None, href: str | None) -> None:
    assert safe_href(url) == href


STAGING = ProjectTarget("staging", "terraform/staging")
PROD = ProjectTarget("prod", "terraform/prod")


def test_links_need_the_public_url() -> None:
    assert console_url(None, "/runs/1") is None and console_url("", "/runs/1") is None
    assert console_url(PUBLIC + "/", "/runs/1") == f"{PUBLIC}/runs/1"


def test_a_status_links_its_one_run_or_the_pull_requests_runs() -> None:
    one = [ProjectResult(STAGING, "planned", "Plan: 1 to add.", run_id=4)]
    two = [*one, ProjectResult(PROD, "failed", "init failed", run_id=5)]
    locked = [ProjectResult(PROD, "locked", "")]
    assert results_link(PUBLIC, "acme/infra", 12, one) == f"{PUBLIC}/runs/4"
    assert results_link(PUBLIC, "acme/infra", 12, two) == f"{PUBLIC}/runs?repo=acme%2Finfra&pr=12"
    assert results_link(PUBLIC, "acme/infra", 12, [*locked, *one]) == f"{PUBLIC}/runs/4"
    assert results_link(PUBLIC, "acme/infra", 12, locked) is None  # no Terraform ran
    assert results_link(None, "acme/infra", 12, one) is None
    # While planning (no run yet): the pull request's runs, where they appear as they start.
    assert status_link(PUBLIC, "acme/infra", 12, []) == f"{PUBLIC}/runs?repo=acme%2Finfra&pr=12"
    assert run_urls(PUBLIC, [*two, *locked]) == {
        STAGING.key: f"{PUBLIC}/runs/4",
        PROD.key: f"{PUBLIC}/runs/5",
    }
    assert run_urls(None, two) == {}
