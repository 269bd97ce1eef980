"""Signature checks against the senders' published test vectors."""

from __future__ import annotations

import pytest

from bot.intake.signatures import (
    github_signature,
    mlflow_signature,
    slack_signature,
    verify_github,
    verify_mlflow,
    verify_slack,
    verify_token,
)

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# From Slack's "Verifying requests from Slack" documentation.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_github_official_vector() -> None:
    assert github_signature(GITHUB_SECRET, GITHUB_BODY) == GITHUB_SIGNATURE
    assert verify_github(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        GITHUB_SIGNATURE.replace("sha256=", "sha1="),
        GITHUB_SIGNATURE[:-1] + "0",
        GITHUB_SIGNATURE.removeprefix("sha256="),
    ],
)
def test_github_rejects(header: str | None) -> None:
    assert not verify_github(GITHUB_SECRET, GITHUB_BODY, header)


def test_github_rejects_other_body() -> None:
    assert not verify_github(GITHUB_SECRET, b"Hello, World?", GITHUB_SIGNATURE)


def test_slack_official_vector() -> None:
    assert slack_signature(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY) == SLACK_SIGNATURE
    now = float(SLACK_TIMESTAMP) + 10
    assert verify_slack(
        SLACK_SECRET, SLACK_BODY, signature_header=SLACK_SIGNATURE, timestamp=SLACK_TIMESTAMP, now=lambda: now
    )


@pytest.mark.parametrize(
    ("signature", "timestamp", "skew"),
    [
        (SLACK_SIGNATURE, SLACK_TIMESTAMP, 301),  # replayed after the window
        (SLACK_SIGNATURE, SLACK_TIMESTAMP, -301),  # from the future
        (SLACK_SIGNATURE, "not-a-number", 0),
        (None, SLACK_TIMESTAMP, 0),
        (SLACK_SIGNATURE, None, 0),
        ("v0=" + "0" * 64, SLACK_TIMESTAMP, 0),
    ],
)
def test_slack_rejects(signature: str | None, timestamp: str | None, skew: int) -> None:
    now = float(SLACK_TIMESTAMP) + skew
    assert not verify_slack(
        SLACK_SECRET, SLACK_BODY, signature_header=signature, timestamp=timestamp, now=lambda: now
    )


def test_mlflow_signature_scheme() -> None:
    import base64
    import hashlib
    import hmac

    body = b'{"entity":"model_version","action":"created"}'
    expected = (
        "v1,"
        + base64.b64encode(hmac.new(b"s3cret", b"d-1.1700000000." + body, hashlib.sha256).digest()).decode()
    )
    assert mlflow_signature("s3cret", "d-1", "1700000000", body) == expected
    assert (
        verify_mlflow(
            "s3cret",
            body,
            signature_header=expected,
            delivery_id="d-1",
            timestamp="1700000000",
            now=1700000100,
        )
        is None
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"signature_header": None}, "missing X-MLflow-Signature"),
        ({"delivery_id": None}, "missing X-MLflow-Delivery-Id"),
        ({"timestamp": None}, "missing X-MLflow-Timestamp"),
        ({"timestamp": "soon"}, "not a Unix time"),
        ({"now": 1700000301}, "outside the 300 s window"),
        ({"delivery_id": "d-2"}, "does not match"),
        ({"signature_header": "v2,abc"}, "v1 scheme"),
    ],
)
def test_mlflow_rejects(changes: dict[str, object], reason: str) -> None:
    body = b"{}"
    arguments: dict[str, object] = {
        "signature_header": mlflow_signature("s3cret", "d-1", "1700000000", body),
        "delivery_id": "d-1",
        "timestamp": "1700000000",
        "now": 1700000000,
    }
    arguments.update(changes)
    problem = verify_mlflow("s3cret", body, **arguments)  # type: ignore[arg-type]
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("authorization", "query", "ok"),
    [
        ("Bearer t0ken", None, True),
        ("bearer t0ken", None, True),
        (None, "t0ken", True),
        ("Bearer wrong", "t0ken", False),  # a wrong header is not rescued by the query
        ("Basic dDBrZW4=", None, False),
        ("Bearer ", None, False),
        (None, None, False),
        (None, "t0ken-longer", False),
    ],
)
def test_token(authorization: str | None, query: str | None, ok: bool) -> None:
    assert verify_token("t0ken", authorization, query) is ok


@pytest.mark.parametrize(
    "timestamp", ["9" * 400, "1" * 13, "\u0661\u0667" + "\u0660" * 8, "1_700_000_000", " 1700000000", "-1"]
)
def test_timestamps_that_are_not_unix_seconds_are_refused_before_any_arithmetic(timestamp: str) -> None:
    now = 1_700_000_000.0
    assert (
        verify_mlflow("s", b"{}", signature_header="v1,x", delivery_id="d", timestamp=timestamp, now=now)
        == "X-MLflow-Timestamp is not a Unix time in whole seconds"
    )
    assert not verify_slack("s", b"", signature_header="v0=x", timestamp=timestamp, now=lambda: now)
