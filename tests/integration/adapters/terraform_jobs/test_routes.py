"""The routes a Terraform Job's pod calls, through the bot's app on SQLite and PostgreSQL: every answer."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.adapters.terraform_cli.results import StepResult
from bot.adapters.terraform_jobs import routes as routes_module
from bot.adapters.terraform_jobs.store import TerraformJobRuns
from bot.adapters.terraform_jobs.wire import JobOutcome
from bot.app import create_app
from bot.routing import Router
from bot.settings import Settings
from bot.storage.models import TerraformJobRunStatus
from bot.storage.types import utcnow

BUNDLE = b"\x1f\x8b\x08\x00 a work tree"
INIT = StepResult("init", ("terraform", "init"), 0, "Initialized!\n", 1.0, False, "Initialized!\n")
PLAN_RESULT = JobOutcome(operation="plan", steps=(INIT,), has_changes=True, planfile=b"plan bytes")


@dataclass
class Bot:
    client: TestClient
    runs: TerraformJobRuns

    def run(self, operation: str = "plan", *, ttl: float = 600, ago: float = 0) -> tuple[int, str]:
        row, token = self.runs.create(
            "k" * 64,
            operation,
            "terraform-runs",
            "tf-plan-infra-staging",
            {"version": 1},
            BUNDLE,
            ttl,
            now=utcnow() - timedelta(seconds=ago),
        )
        return row.id, token


@pytest.fixture
def bot(database_url: str) -> Iterator[Bot]:
    settings = Settings(_env_file=None, database_url=database_url)
    app = create_app(settings, router=Router())
    with TestClient(app) as client:
        yield Bot(client, TerraformJobRuns(app.state.services.database))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def put_result(bot: Bot, run_id: int, token: str, body: bytes | Iterator[bytes] | None = None):
    """PUT a result (the plan result by default); an iterator is sent chunked, without a length."""
    content = PLAN_RESULT.to_json().encode() if body is None else body
    headers = {**bearer(token), "Content-Type": "application/json"}
    return bot.client.put(f"/internal/terraform-jobs/{run_id}/result", content=content, headers=headers)


def test_the_pod_fetches_its_work_tree_and_sends_its_result(bot: Bot) -> None:
    run_id, token = bot.run()
    fetched = bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=bearer(token))
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/gzip" and fetched.content == BUNDLE

    sent = put_result(bot, run_id, token)
    assert sent.status_code == 204 and sent.content == b""
    assert JobOutcome.from_json(bot.runs.result(run_id)) == PLAN_RESULT
    assert bot.runs.get(run_id).status == TerraformJobRunStatus.FINISHED


def test_a_result_sent_in_chunks_is_stored(bot: Bot) -> None:
    run_id, token = bot.run()
    body = PLAN_RESULT.to_json().encode()
    chunks = iter([body[:10], body[10:]])
    assert put_result(bot, run_id, token, chunks).status_code == 204
    assert bot.runs.result(run_id) == body


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong-token", "Basic dXNlcjpwYXNz", "TOKEN"],
)
def test_no_bundle_and_no_result_without_the_runs_token(bot: Bot, authorization: str | None) -> None:
    run_id, token = bot.run()
    headers = {} if authorization is None else {"Authorization": authorization.replace("TOKEN", token)}
    fetched = bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=headers)
    assert fetched.status_code == 401
    assert fetched.json() == {"detail": "a missing or wrong token for this run"}
    sent = bot.client.put(
        f"/internal/terraform-jobs/{run_id}/result", content=PLAN_RESULT.to_json(), headers=headers
    )
    assert sent.status_code == 401 and bot.runs.result(run_id) is None


def test_another_runs_token_opens_nothing(bot: Bot) -> None:
    run_id, _token = bot.run()
    _other, other_token = bot.run()
    assert (
        bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=bearer(other_token)).status_code
        == 401
    )
    assert put_result(bot, run_id, other_token).status_code == 401


@pytest.mark.parametrize("run_id", ["999999", "abc", "-1", "1.5", "99999999999", "%C2%B9"])
def test_an_unknown_run_is_a_404(bot: Bot, run_id: str) -> None:
    _known, token = bot.run()
    fetched = bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=bearer(token))
    assert fetched.status_code == 404 and fetched.json() == {"detail": "there is no such Terraform Job run"}
    sent = bot.client.put(f"/internal/terraform-jobs/{run_id}/result", content=b"{}", headers=bearer(token))
    assert sent.status_code == 404 and sent.json()["detail"] == "there is no such Terraform Job run"


def test_an_expired_or_abandoned_run_is_gone(bot: Bot) -> None:
    expired, expired_token = bot.run(ttl=60, ago=61)
    abandoned, abandoned_token = bot.run()
    bot.runs.mark(abandoned, "abandoned")
    for run_id, token in ((expired, expired_token), (abandoned, abandoned_token)):
        fetched = bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=bearer(token))
        assert fetched.status_code == 410 and "this run is over" in fetched.json()["detail"]
        assert put_result(bot, run_id, token).status_code == 410
        assert bot.runs.result(run_id) is None


def test_a_second_result_is_a_conflict_and_the_bundle_is_gone(bot: Bot) -> None:
    run_id, token = bot.run()
    assert put_result(bot, run_id, token).status_code == 204
    again = put_result(
        bot, run_id, token, JobOutcome(operation="plan", steps=(), error="x").to_json().encode()
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "a result was already stored for this run"}
    assert JobOutcome.from_json(bot.runs.result(run_id)) == PLAN_RESULT
    assert (
        bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=bearer(token)).status_code == 410
    )


@pytest.mark.parametrize("chunked", [False, True])
def test_a_result_over_the_limit_is_refused(bot: Bot, monkeypatch: pytest.MonkeyPatch, chunked: bool) -> None:
    monkeypatch.setattr(routes_module, "MAX_RESULT_BYTES", 100)
    run_id, token = bot.run()
    body = PLAN_RESULT.to_json().encode()
    assert len(body) > 100
    content = iter([body[:60], body[60:]]) if chunked else body
    sent = put_result(bot, run_id, token, content)
    assert sent.status_code == 413 and sent.json() == {"detail": "the result is over the 100-byte limit"}
    assert bot.runs.result(run_id) is None
    assert (
        put_result(bot, run_id, token, JobOutcome(operation="plan", steps=()).to_json().encode()).status_code
        == 204
    )


def _document(**overrides: object) -> bytes:
    return json.dumps({**json.loads(PLAN_RESULT.to_json()), **overrides}).encode()


@pytest.mark.parametrize(
    ("operation", "body", "detail"),
    [
        ("plan", b"not json", "not a Terraform Job result: result: not JSON"),
        ("plan", b"\xff\xfe", "not a Terraform Job result: result: not"),
        ("plan", b"", "not a Terraform Job result: result: not JSON"),
        ("plan", _document(version=2), "version 2 is not 1"),
        ("plan", _document(steps=[{"step": "init"}]), "result.steps[0]: misses"),
        ("plan", _document(planfile="%%%"), "result.planfile: not base64"),
        ("apply", PLAN_RESULT.to_json().encode(), "this run is a apply, the result is of a plan"),
        (
            "apply",
            _document(operation="apply", has_changes=None, planfile=base64.b64encode(b"x").decode()),
            "result.planfile: must be null for an apply",
        ),
    ],
)
def test_a_body_that_is_not_a_result_of_the_run_is_a_400(
    bot: Bot, operation: str, body: bytes, detail: str
) -> None:
    run_id, token = bot.run(operation)
    sent = put_result(bot, run_id, token, body)
    assert sent.status_code == 400 and detail in sent.json()["detail"]
    assert bot.runs.result(run_id) is None and bot.runs.get(run_id).status == "created"


def test_the_token_is_never_logged_or_echoed(
    bot: Bot, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    run_id, token = bot.run()
    answers = [
        bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=bearer(token)),
        bot.client.get(f"/internal/terraform-jobs/{run_id}/bundle", headers=bearer(token + "x")),
        put_result(bot, run_id, token, b"not json"),
        put_result(bot, run_id, token),
        put_result(bot, run_id, token),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 400, 204, 409]
    captured = capsys.readouterr()
    assert "terraform_job" in captured.out + captured.err + caplog.text  # it did log
    assert token not in captured.out + captured.err + caplog.text
    assert all(token not in answer.text for answer in answers[1:])


def test_the_routes_are_not_in_the_api_docs(bot: Bot) -> None:
    assert "/internal/terraform-jobs" not in bot.client.get("/openapi.json").text
