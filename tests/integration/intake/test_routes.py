"""Every intake route and status code, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.storage.models import Event, Job
from tests.integration.intake import payloads


def _counts(client: TestClient) -> tuple[int, int]:
    database = client.app.state.services.database
    with database.sessions() as session:
        events = session.execute(select(func.count()).select_from(Event)).scalar_one()
        jobs = session.execute(select(func.count()).select_from(Job)).scalar_one()
    return events, jobs


# -- GitHub --------------------------------------------------------------------------


def test_github_event_is_stored_with_its_jobs_before_the_answer(client: TestClient) -> None:
    body, headers = payloads.github_request(payloads.pull_request(), delivery="d-1")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["events"][0]["status"] == "queued"
    assert _counts(client) == (1, 1)


def test_github_redelivery_does_no_new_work(client: TestClient) -> None:
    body, headers = payloads.github_request(payloads.pull_request(), delivery="d-same")
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    again = client.post("/webhooks/github", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert _counts(client) == (1, 1)


def test_github_ping_answers_200_and_is_stored(client: TestClient) -> None:
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"type": "App"}}
    body, headers = payloads.github_request(ping, event="ping")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 200
    assert _counts(client) == (1, 0)


def test_github_event_the_bot_does_not_act_on_is_stored_as_ignored(client: TestClient) -> None:
    star = {"action": "created", "repository": {"full_name": "acme/gitops"}, "sender": {"login": "bob"}}
    body, headers = payloads.github_request(star, event="star")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202
    event = response.json()["events"][0]
    assert event["status"] == "ignored" and event["reason"]
    assert _counts(client) == (1, 0)


@pytest.mark.parametrize(
    ("mutate", "status", "message"),
    [
        (lambda h: h.pop("X-Hub-Signature-256"), 401, "missing X-Hub-Signature-256"),
        (lambda h: h.update({"X-Hub-Signature-256": "sha256=" + "0" * 64}), 401, "does not match"),
        (lambda h: h.update({"X-Hub-Signature-256": "sha1=abc"}), 401, "does not match"),
        (lambda h: h.pop("X-GitHub-Event"), 400, "X-GitHub-Event"),
    ],
)
def test_github_refusals(client: TestClient, mutate, status: int, message: str) -> None:
    body, headers = payloads.github_request(payloads.pull_request())
    mutate(headers)
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == status
    assert message.lower() in response.json()["error"].lower()
    assert _counts(client) == (0, 0)


def test_github_signed_but_malformed_body_is_400(client: TestClient) -> None:
    body, headers = payloads.github_request(b"{not json")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400 and response.json()["error"]
    body, headers = payloads.github_request({"action": "opened"})  # no pull_request object
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400 and "pull_request" in response.json()["error"]
    assert _counts(client) == (0, 0)


def test_missing_secret_disables_the_endpoint_with_503(make_client) -> None:
    client = make_client(
        github_webhook_secret=None,
        gitlab_webhook_secret=None,
        registry_token=None,
        mlflow_webhook_secret=None,
        slack_signing_secret=None,
    )
    body, headers = payloads.github_request(payloads.pull_request())
    for path, variable in [
        ("/webhooks/github", "GITOPS_BOT_GITHUB_WEBHOOK_SECRET"),
        ("/webhooks/gitlab", "GITOPS_BOT_GITLAB_WEBHOOK_SECRET"),
        ("/webhooks/registry", "GITOPS_BOT_REGISTRY_TOKEN"),
        ("/webhooks/alertmanager", "GITOPS_BOT_REGISTRY_TOKEN"),
        ("/webhooks/mlflow", "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET"),
        ("/slack/commands", "GITOPS_BOT_SLACK_SIGNING_SECRET"),
        ("/slack/interactions", "GITOPS_BOT_SLACK_SIGNING_SECRET"),
    ]:
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 503, path
        assert variable in response.json()["error"]


def test_body_over_the_limit_is_413_from_content_length(make_client) -> None:
    client = make_client()
    limit = client.app.state.services.settings.max_body_bytes
    assert limit == 25 * 1024 * 1024
    body, headers = payloads.github_request(payloads.pull_request())
    # Declared size alone is enough: the bot refuses before reading a byte of it.
    response = client.post(
        "/webhooks/github", content=body, headers={**headers, "Content-Length": str(limit + 1)}
    )
    assert response.status_code == 413


def test_body_over_the_limit_is_413_while_streaming(make_client) -> None:
    client = make_client(max_body_bytes=4096)
    chunk = b"x" * 1024

    def chunks():
        for _ in range(64):
            yield chunk

    _body, headers = payloads.github_request(payloads.pull_request())
    response = client.post("/webhooks/github", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert _counts(client) == (0, 0)


# -- registries ----------------------------------------------------------------------


def test_registry_envelope_stores_each_event_and_acts_on_manifest_pushes(client: TestClient) -> None:
    body = json.dumps(payloads.distribution_envelope()).encode()
    headers = {
        "Content-Type": "application/vnd.docker.distribution.events.v1+json",
        "Authorization": "Bearer reg-token",
    }
    response = client.post("/webhooks/registry", content=body, headers=headers)
    assert response.status_code == 202, response.text
    statuses = [event["status"] for event in response.json()["events"]]
    assert statuses.count("queued") == 1 and statuses.count("ignored") == 2
    assert _counts(client) == (3, 1)
    again = client.post("/webhooks/registry", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert _counts(client) == (3, 1)


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({"Authorization": "Bearer reg-token"}, "", 202),
        ({}, "?token=reg-token", 202),
        ({"Authorization": "Bearer nope"}, "", 401),
        ({}, "?token=nope", 401),
        ({}, "", 401),
    ],
)
def test_registry_token(client: TestClient, headers: dict[str, str], query: str, status: int) -> None:
    body = json.dumps(payloads.distribution_envelope()).encode()
    headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json", **headers}
    assert client.post("/webhooks/registry" + query, content=body, headers=headers).status_code == status


def test_registry_malformed_is_400(client: TestClient) -> None:
    headers = {"Authorization": "Bearer reg-token", "Content-Type": "application/json"}
    for body in (b"[]", b"{", b'{"something": "else"}'):
        response = client.post("/webhooks/registry", content=body, headers=headers)
        assert response.status_code == 400, body
    assert _counts(client) == (0, 0)


# -- MLflow --------------------------------------------------------------------------


def test_mlflow_signed_event_is_accepted_once(client: TestClient) -> None:
    body, headers = payloads.mlflow_request(delivery="m-1")
    assert client.post("/webhooks/mlflow", content=body, headers=headers).status_code == 202
    assert client.post("/webhooks/mlflow", content=body, headers=headers).status_code == 200
    assert _counts(client) == (1, 1)


@pytest.mark.parametrize(
    ("kwargs", "mutate"),
    [
        ({"secret": "wrong"}, None),
        ({"timestamp": 1_000_000_000}, None),  # replayed long after the window
        ({}, lambda h: h.pop("X-MLflow-Signature")),
        ({}, lambda h: h.pop("X-MLflow-Delivery-Id")),
    ],
)
def test_mlflow_refusals(client: TestClient, kwargs, mutate) -> None:
    body, headers = payloads.mlflow_request(**kwargs)
    if mutate:
        mutate(headers)
    assert client.post("/webhooks/mlflow", content=body, headers=headers).status_code == 401
    assert _counts(client) == (0, 0)


# -- Alertmanager --------------------------------------------------------------------


def test_alertmanager(client: TestClient) -> None:
    body = json.dumps(payloads.alertmanager_notification()).encode()
    ok = client.post("/webhooks/alertmanager", content=body, headers={"Authorization": "Bearer reg-token"})
    assert ok.status_code == 202, ok.text
    denied = client.post("/webhooks/alertmanager", content=body, headers={"Authorization": "Bearer x"})
    assert denied.status_code == 401
    bad = client.post(
        "/webhooks/alertmanager", content=b'{"version": "4"}', headers={"Authorization": "Bearer reg-token"}
    )
    assert bad.status_code == 400
    assert _counts(client) == (1, 1)


# -- Slack ---------------------------------------------------------------------------


def test_slack_command_is_acknowledged_and_retries_do_nothing(client: TestClient) -> None:
    body, headers = payloads.slack_command_request("status", trigger_id="111.222.abc")
    response = client.post("/slack/commands", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    retry = client.post("/slack/commands", content=body, headers={**headers, "X-Slack-Retry-Num": "1"})
    assert retry.status_code == 200
    assert _counts(client) == (1, 1)


@pytest.mark.parametrize("kwargs", [{"secret": "wrong"}, {"timestamp": 1_000_000_000}])
def test_slack_refusals(client: TestClient, kwargs) -> None:
    body, headers = payloads.slack_command_request(**kwargs)
    assert client.post("/slack/commands", content=body, headers=headers).status_code == 401
    assert _counts(client) == (0, 0)


def test_slack_interaction(client: TestClient) -> None:
    from urllib.parse import urlencode

    from bot.intake.signatures import slack_signature

    interaction = {
        "type": "block_actions",
        "user": {"id": "U2CERLKJA", "username": "alice", "team_id": "T1"},
        "team": {"id": "T1", "domain": "acme"},
        "channel": {"id": "C1", "name": "ml-deploys"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1"},
        "trigger_id": "333.444.def",
        "response_url": "https://hooks.slack.com/actions/T1/1/xyz",
        "actions": [
            {
                "action_id": "rollback",
                "block_id": "b1",
                "value": "chat-llm-staging",
                "type": "button",
                "action_ts": "1700000001.000200",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(interaction)}).encode()
    import time

    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature("slack-secret", stamp, body),
    }
    response = client.post("/slack/interactions", content=body, headers=headers)
    assert response.status_code == 200
    assert _counts(client) == (1, 1)


# -- health, readiness, metrics, API ---------------------------------------------------


def test_health_readiness_metrics_and_events_api(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    for n in range(3):
        body, headers = payloads.github_request(payloads.pull_request(number=n), delivery=f"d-{n}")
        client.post("/webhooks/github", content=body, headers=headers)
    bad_body, bad_headers = payloads.github_request(payloads.pull_request(), secret="wrong")
    client.post("/webhooks/github", content=bad_body, headers=bad_headers)
    events = client.get("/api/events?limit=2").json()
    assert [event["delivery_id"] for event in events] == ["d-2", "d-1"]
    assert events[0]["source"] == "github" and events[0]["kind"] == "pull_request.opened"
    assert events[0]["status"] == "queued"
    assert client.get("/api/events?limit=0").status_code == 400
    assert client.get("/api/actions").json() == []
    text = client.get("/metrics").text
    assert 'gitops_bot_webhook_requests_total{outcome="accepted",source="github"} 3.0' in text
    assert 'gitops_bot_webhook_requests_total{outcome="unauthorized",source="github"} 1.0' in text
    assert 'gitops_bot_queue_depth{status="queued"} 3.0' in text
    page = client.get("/")  # the console's overview (the events are on /events)
    assert page.status_code == 200 and "<h1>Overview</h1>" in page.text


def test_readyz_fails_when_the_schema_is_behind(tmp_path) -> None:
    from bot.app import create_app
    from bot.routing import Router
    from bot.settings import Settings
    from bot.storage.db import migrate

    url = f"sqlite:///{tmp_path / 'unmigrated.db'}"
    with TestClient(create_app(Settings(_env_file=None, database_url=url), router=Router())) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "gitops-bot migrate" in response.json()["error"]
        migrate(url)
        assert client.get("/readyz").status_code == 200


def test_served_app_runs_the_handler_and_finishes_the_event(database_url: str) -> None:
    """Intake → queue → worker → handler, in one process, as `gitops-bot serve` runs."""
    import threading
    import time

    from bot.app import create_app
    from bot.routing import Router
    from bot.settings import Settings
    from tests.integration.intake.conftest import SECRETS

    seen: list[tuple[str, int]] = []
    done = threading.Event()
    router = Router()

    @router.register("github", "pull_request", "opened", name="test.record")
    def record(ctx) -> None:
        seen.append((ctx.event.delivery_id, ctx.domain.number))
        done.set()

    settings = Settings(_env_file=None, database_url=database_url, job_poll_interval_seconds=5, **SECRETS)
    with TestClient(create_app(settings, router=router, run_workers=True)) as client:
        body, headers = payloads.github_request(payloads.pull_request(number=12), delivery="d-e2e")
        assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
        # The worker is woken by the intake, so this does not wait for the 5 s poll.
        assert done.wait(timeout=4)
        deadline = time.monotonic() + 5
        while client.get("/api/events").json()[0]["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert seen == [("d-e2e", 12)]
