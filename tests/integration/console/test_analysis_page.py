"""``/analyses/{id}`` over HTTP: the page of a real deployment's analysis, its actions (the same
rollback and promotion as the commands, on the GitHub stand-in with real git), the event stream
over a real socket, and stored text that never becomes markup."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.models import Analysis, AnalysisInterval, Deployment
from tests.support.botenv import BotEnv, bot_env, distribution_push, served

REPO = "acme/gitops"
CONFIG = """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: apps/chat/values.yaml, key: image.tag}]
    canary:
      interval: 60s
      duration: 5m
      on_failure: notify
      metrics:
        - {name: error_rate, query: 'sum(rate(errors{version="{{ version }}"}[{{ interval }}]))', max: 0.05}
    promote: {to: chat-prod}
  - name: chat-prod
    trigger: {image: {repository: registry.example.com/serving/chat, tags: "regex:^promoted-only$"}}
    targets: [{file: apps/chat/values-prod.yaml, key: image.tag}]
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "apps/chat/values.yaml": "image:\n  tag: 1.0.0\n",
    "apps/chat/values-prod.yaml": "image:\n  tag: 1.0.0\n",
}
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    # Nothing measures here (no step runs): the Prometheus address only builds links.
    with bot_env(
        tmp_path,
        sqlite_database_url,
        repo=REPO,
        files=FILES,
        prometheus_url="http://prometheus.monitoring.svc:9090",
        prometheus_public_url="https://prometheus.example.com",
    ) as built:
        built.standin.set_permission(REPO, "alice", "write")
        built.standin.set_permission(REPO, "console", "write")  # the console's login without sign-in
        yield built


def deployed(env: BotEnv, version: str = "1.1.0") -> int:
    """Push, merge: the analysis of ``version`` starts; its id."""
    assert env.post_registry(distribution_push("serving/chat", version, "sha256:" + "c" * 64)) == 202
    env.run_jobs()
    pull = next(p for p in env.standin.pulls(REPO) if p.head_ref == f"gitops-bot/chat/{version}")
    env.standin.merge_pull_request(REPO, pull.number, user="alice")
    env.run_jobs()
    with env.services.database.sessions() as session:
        analysis_id = session.scalars(select(Analysis.id).order_by(Analysis.id.desc())).first()
    assert analysis_id is not None
    return analysis_id


def add_interval(
    env: BotEnv, analysis_id: int, index: int, value: float | None, verdict: str, **more: object
) -> None:
    measurement = {
        "metric": "error_rate",
        "value": value,
        "status": verdict,
        "reason": "r",
        "max": 0.05,
        **more,
    }
    evidence = {
        "index": index,
        "verdict": verdict,
        "reason": f"error_rate: {verdict}",
        "measurements": [measurement],
    }
    with env.services.database.transaction() as session:
        at = datetime(2026, 11, 28, 12, index + 1, tzinfo=UTC)
        session.add(
            AnalysisInterval(
                analysis_id=analysis_id, index=index, at=at, verdict=verdict, measurements=evidence
            )
        )


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def test_a_running_analysis_page_with_its_chart_links_and_stream(env: BotEnv) -> None:
    analysis_id = deployed(env)
    add_interval(env, analysis_id, 0, 0.01, "pass")
    add_interval(env, analysis_id, 1, 0.5, "fail")
    page = env.client.get(f"/analyses/{analysis_id}")
    assert page.status_code == 200
    html = page.text
    assert "Analysis" in html and "chat" in html and "1.1.0" in html
    assert 'role="img"' in html and "error_rate per interval: 2 intervals; 1 failed" in html
    assert html.count('data-status="fail"') == 1 and html.count('data-status="pass"') == 1
    # Each point opens Prometheus as people reach it, on its query, at its time.
    assert "https://prometheus.example.com/graph?g0.expr=sum%28rate%28errors%7Bversion%3D%221.1.0%22" in html
    assert "g0.end_input=2026-11-28+12%3A02%3A00" in html
    assert f'data-stream="/analyses/{analysis_id}/events?seen=running%3A2"' in html
    assert "Roll back now" in html and "Promote to chat-prod" in html
    api = env.client.get(f"/api/analyses/{analysis_id}").json()
    assert [i["verdict"] for i in api["intervals"]] == ["pass", "fail"]  # the shape it always had
    (series,) = api["series"]
    assert series["metric"] == "error_rate" and series["unit"] == "percent"
    assert [p["status"] for p in series["points"]] == ["pass", "fail"]


def test_no_such_analysis_is_a_404_page(env: BotEnv) -> None:
    for raw in ("999999", "abc", "-1", "9" * 30):
        answer = env.client.get(f"/analyses/{raw}")
        assert answer.status_code == 404 and "There is no analysis" in answer.text
    assert env.client.get("/analyses/999999/events").text.startswith("retry:")
    assert env.client.get("/analyses/x/events").status_code == 404


def test_roll_back_now_reverts_through_git_once_and_is_audited(env: BotEnv) -> None:
    analysis_id = deployed(env)
    html = env.client.get(f"/analyses/{analysis_id}").text
    refused = env.client.post(
        f"/analyses/{analysis_id}/rollback", data={"csrf": "forged"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert not [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]

    answer = env.client.post(
        f"/analyses/{analysis_id}/rollback", data={"csrf": csrf(html)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert re.fullmatch(rf"/analyses/{analysis_id}\?action=\d+#actions", answer.headers["location"])
    (revert,) = [p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/revert/chat/1.1.0"]
    assert revert.state == "open" and "pressed in the console" in revert.body
    after = env.client.get(answer.headers["location"]).text
    assert f"Opened revert #{revert.number}" in after and 'class="flash flash-ok"' in after
    assert "No rollback: rollback already started; its revert pull request is open." in after
    (audited,) = env.actions("console.rollback")
    viewer = audited["actor"]
    assert audited["outcome"] == "opened" and audited["target"] == f"analysis:{analysis_id}"
    assert [a["actor"] for a in env.actions("rollback.request")] == [viewer]
    assert "1.1.0" in env.services.quarantine.versions(repo=REPO, deployment="chat")
    # A second press (a stale page) does not revert twice.
    env.client.post(f"/analyses/{analysis_id}/rollback", data={"csrf": csrf(html)})
    assert len([p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]) == 1


def test_promote_opens_the_promotion_pull_request(env: BotEnv) -> None:
    analysis_id = deployed(env)
    html = env.client.get(f"/analyses/{analysis_id}").text
    answer = env.client.post(f"/analyses/{analysis_id}/promote", data={"csrf": csrf(html)})
    assert answer.status_code == 200 and "flash-ok" in answer.text
    (promoted,) = [p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat-prod/1.1.0"]
    assert promoted.state == "open"
    (audited,) = env.actions("console.promote")
    assert audited["outcome"] == "opened"


def test_a_refused_viewer_changes_nothing_and_is_audited(
    env: BotEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.console.pages.analysis as page

    analysis_id = deployed(env)
    html = env.client.get(f"/analyses/{analysis_id}").text
    monkeypatch.setattr(page, "permission_refusal", lambda *args: "needs write access to acme/gitops")
    answer = env.client.post(f"/analyses/{analysis_id}/rollback", data={"csrf": csrf(html)})
    assert "refused" in answer.text and "needs write access to acme/gitops" in answer.text
    assert 'class="flash flash-error"' in answer.text
    assert not [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]
    (audited,) = env.actions("console.rollback")
    assert audited["outcome"] == "refused"


def test_stored_text_is_never_markup(env: BotEnv) -> None:
    analysis_id = deployed(env)
    add_interval(env, analysis_id, 0, 0.5, "fail", reason=PAYLOAD)
    with env.services.database.transaction() as session:
        analysis = session.get(Analysis, analysis_id)
        assert analysis is not None
        config = dict(analysis.config)
        config["metrics"] = [{**config["metrics"][0], "name": f"err{PAYLOAD}"}]
        analysis.config = config
        analysis.reason = PAYLOAD
        row = session.scalars(
            select(AnalysisInterval).where(AnalysisInterval.analysis_id == analysis_id)
        ).one()
        evidence = dict(row.measurements)
        evidence["measurements"] = [{**evidence["measurements"][0], "metric": f"err{PAYLOAD}"}]
        evidence["alert"] = {"alertname": PAYLOAD, "generator_url": "javascript:window.__xss=3"}
        row.measurements = evidence
    html = env.client.get(f"/analyses/{analysis_id}").text
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    assert "javascript:" not in html
    assert "&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in html
    # The ?action= of the page only ever names an audit row; text in the URL is never shown.
    assert PAYLOAD not in env.client.get(f"/analyses/{analysis_id}?action={PAYLOAD}").text


def test_the_event_stream_over_http_says_refresh_then_end(env: BotEnv) -> None:
    analysis_id = deployed(env)
    with served(env.client.app) as base:
        url = f"{base}/analyses/{analysis_id}/events?seen=running%3A0"
        add_interval(env, analysis_id, 0, 0.01, "pass")
        with urllib.request.urlopen(url, timeout=10) as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert stream.read().decode().endswith("event: refresh\ndata: running:1\n\n")
        with env.services.database.transaction() as session:
            analysis = session.get(Analysis, analysis_id)
            assert analysis is not None
            analysis.status = "passed"
        with urllib.request.urlopen(url, timeout=10) as stream:
            assert stream.read().decode().endswith("event: end\ndata: passed\n\n")
    with env.services.database.sessions() as session:
        assert session.get(Deployment, 1) is not None
