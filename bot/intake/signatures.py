"""Webhook authenticity checks, pure functions over headers, bodies and a clock.

Every comparison of a secret-derived value is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from slack_sdk.signature import Clock, SignatureVerifier

GITHUB_SIGNATURE_PREFIX = "sha256="
MLFLOW_SIGNATURE_PREFIX = "v1,"
# Unix seconds have 10 digits until the year 2286; 12 leave room and bound the arithmetic.
MAX_TIMESTAMP_DIGITS = 12


def github_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return GITHUB_SIGNATURE_PREFIX + digest


def verify_github(secret: str, body: bytes, signature_header: str | None) -> bool:
    """Check ``X-Hub-Signature-256``. The legacy SHA-1 header is never accepted."""
    if not signature_header or not signature_header.startswith(GITHUB_SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(github_signature(secret, body), signature_header.strip())


def mlflow_signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return MLFLOW_SIGNATURE_PREFIX + base64.b64encode(digest).decode()


def verify_mlflow(
    secret: str,
    body: bytes,
    *,
    signature_header: str | None,
    delivery_id: str | None,
    timestamp: str | None,
    now: float,
    window_seconds: int = 300,
) -> str | None:
    """Check ``X-MLflow-Signature``; returns None when valid, else the reason it is not."""
    if not signature_header:
        return "missing X-MLflow-Signature header"
    if not delivery_id:
        return "missing X-MLflow-Delivery-Id header"
    if not timestamp:
        return "missing X-MLflow-Timestamp header"
    if not signature_header.startswith(MLFLOW_SIGNATURE_PREFIX):
        return "X-MLflow-Signature must use the v1 scheme"
    sent_at = unix_seconds(timestamp)
    if sent_at is None:
        return "X-MLflow-Timestamp is not a Unix time in whole seconds"
    if abs(now - sent_at) > window_seconds:
        return f"X-MLflow-Timestamp is outside the {window_seconds} s window"
    expected = mlflow_signature(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(expected, signature_header.strip()):
        return "X-MLflow-Signature does not match"
    return None


def unix_seconds(text: str) -> int | None:
    """A timestamp header as seconds, or None unless it is at most 12 ASCII digits.

    Checked before any arithmetic: ``int()`` would accept hundreds of digits (and
    non-ASCII digits, underscores, blanks), and subtracting such a number from a float
    clock raises OverflowError.
    """
    if not text.isascii() or not text.isdigit() or len(text) > MAX_TIMESTAMP_DIGITS:
        return None
    return int(text)


def verify_token(expected: str, authorization_header: str | None, query_token: str | None) -> bool:
    """Bearer token in ``Authorization`` (registries, Alertmanager) or ``?token=`` (Docker Hub)."""
    presented: str | None = None
    if authorization_header:
        scheme, _, value = authorization_header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            presented = value.strip()
    if presented is None and query_token:
        presented = query_token
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def verify_gitlab(expected: str, presented: str | None) -> bool:
    """GitLab's ``X-Gitlab-Token``: the webhook's secret token, sent as is (compared in constant time)."""
    if not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


class _FixedClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None  # only None for a missing timestamp
    return signature


def verify_slack(
    secret: str,
    body: bytes,
    *,
    signature_header: str | None,
    timestamp: str | None,
    now: Callable[[], float],
) -> bool:
    """Slack's v0 scheme through slack_sdk's own verifier (which enforces the 300 s window)."""
    if not timestamp or not signature_header or unix_seconds(timestamp) is None:
        return False
    return SignatureVerifier(secret, clock=_FixedClock(now)).is_valid(
        body=body, timestamp=timestamp, signature=signature_header
    )
