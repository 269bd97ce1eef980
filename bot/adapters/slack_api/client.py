"""The Slack adapter: slack-sdk's ``WebClient`` and ``WebhookClient``, behind four calls.

Every failure becomes one of two exceptions, so callers never import slack-sdk:

* :class:`SlackUnavailable`: try again later (connection errors, 5xx, a rate limit that
  asked for a longer wait than a worker may block, ``internal_error`` and friends);
* :class:`SlackRefused`: Slack understood and said no (``channel_not_found``,
  ``invalid_auth``, ``not_in_channel``, ``expired_url`` …); retrying cannot help.

Rate limits: Slack answers 429 with ``Retry-After`` (seconds). slack-sdk's
``RateLimitErrorRetryHandler`` waits that long and tries again; ours is the same handler
with a ceiling, because a worker thread must not sleep for minutes on one message: above
``max_retry_after_seconds`` the call fails with ``SlackUnavailable(retry_after=…)`` and the
durable job is retried instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

# Web API errors that mean "Slack had a problem", not "your request is wrong".
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)

# Block Kit limits (Slack drops or refuses messages beyond them).
MAX_TEXT_CHARS = 40_000
MAX_BLOCKS = 50


class SlackError(Exception):
    def __init__(self, message: str, *, error: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error  # Slack's error code, e.g. "channel_not_found"
        self.status = status


class SlackUnavailable(SlackError):
    """Slack could not be reached or asked us to come back later; retry the job."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, error=error, status=status)
        self.retry_after = retry_after


class SlackRefused(SlackError):
    """Slack refused the request for a reason retrying will not fix."""


@dataclass(frozen=True)
class PostedMessage:
    channel: str  # the channel *id* Slack answered with (chat.update needs the id, not "#name")
    ts: str


def _retry_after(response: HttpResponse | None) -> float | None:
    if response is None:
        return None
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list | tuple) else values
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                return None
    return None


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, honouring ``Retry-After`` exactly, up to a ceiling.

    The built-in handler sleeps ``int(Retry-After) + random()`` however long Slack asks;
    a worker should not block for minutes, so longer waits are left to the job queue.
    """

    def __init__(
        self,
        max_retry_count: int = 2,
        *,
        max_wait_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response)
        return wait is None or wait <= self.max_wait_seconds

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = _retry_after(response)
        # A little jitter so several workers told "1 s" do not return in lock step.
        self._sleep((1.0 if wait is None else wait) + random.uniform(0, 0.1))
        state.next_attempt_requested = True
        state.increment_current_attempt()


def retry_handlers(
    *, rate_limit_retries: int, max_retry_after_seconds: float, connection_retries: int
) -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(
            max_retry_count=connection_retries,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.2),
            error_types=[URLError, ConnectionError, RemoteDisconnected, TimeoutError],
        ),
        BoundedRateLimitRetryHandler(rate_limit_retries, max_wait_seconds=max_retry_after_seconds),
    ]


class SlackClient:
    """Blocking (urllib underneath): call it from worker threads, never on the event loop."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://slack.com/api/",
        timeout_seconds: float = 10.0,
        rate_limit_retries: int = 2,
        max_retry_after_seconds: float = 30.0,
        connection_retries: int = 2,
    ) -> None:
        if not token:
            raise ValueError("a Slack bot token (xoxb-…) is required")
        self._handlers = retry_handlers(
            rate_limit_retries=rate_limit_retries,
            max_retry_after_seconds=max_retry_after_seconds,
            connection_retries=connection_retries,
        )
        self.timeout_seconds = timeout_seconds
        # slack-sdk joins method names onto the base URL, so it must end with a slash.
        self.web = WebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=int(max(timeout_seconds, 1)),
            retry_handlers=self._handlers,
        )

    # -- Web API -------------------------------------------------------------------------------

    def _call(self, method: str, func: Callable[..., Any], **kwargs: Any) -> Mapping[str, Any]:
        try:
            response = func(**kwargs)
        except SlackApiError as exc:
            raise _classify_api_error(method, exc) from exc
        except (URLError, OSError, RemoteDisconnected) as exc:
            raise SlackUnavailable(f"Slack {method}: cannot reach Slack ({exc})") from exc
        except SlackClientError as exc:
            raise SlackRefused(f"Slack {method}: {exc}") from exc
        data = response.data
        return data if isinstance(data, Mapping) else {}

    def auth_test(self) -> Mapping[str, Any]:
        return self._call("auth.test", self.web.auth_test)

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        kwargs: dict[str, Any] = {"channel": channel, "text": _clip(text), "unfurl_links": False}
        if blocks:
            kwargs["blocks"] = list(blocks)[:MAX_BLOCKS]
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        data = self._call("chat.postMessage", self.web.chat_postMessage, **kwargs)
        return PostedMessage(channel=str(data.get("channel") or channel), ts=str(data.get("ts", "")))

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: Sequence[Mapping[str, Any]] | None = None
    ) -> PostedMessage:
        kwargs: dict[str, Any] = {"channel": channel, "ts": ts, "text": _clip(text)}
        # An empty list removes the blocks (e.g. the buttons once a decision is taken).
        kwargs["blocks"] = list(blocks or [])[:MAX_BLOCKS]
        data = self._call("chat.update", self.web.chat_update, **kwargs)
        return PostedMessage(channel=str(data.get("channel") or channel), ts=str(data.get("ts") or ts))

    def post_ephemeral(
        self, channel: str, user: str, *, text: str, blocks: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": _clip(text)}
        if blocks:
            kwargs["blocks"] = list(blocks)[:MAX_BLOCKS]
        self._call("chat.postEphemeral", self.web.chat_postEphemeral, **kwargs)

    # -- response_url --------------------------------------------------------------------------

    def respond(
        self,
        response_url: str,
        *,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        response_type: str = "ephemeral",
        replace_original: bool | None = None,
    ) -> None:
        """Post to a slash command's or interaction's ``response_url``.

        The caller keeps count of the uses (Slack allows five within 30 minutes): see
        ``bot.adapters.slack_api.store.SlackStateStore.use_response_url``.
        """
        if not response_url.lower().startswith(("https://", "http://")):
            raise SlackRefused(f"response_url must be an http(s) URL, got {response_url[:60]!r}")
        client = WebhookClient(
            response_url, timeout=int(max(self.timeout_seconds, 1)), retry_handlers=self._handlers
        )
        body: dict[str, Any] = {"text": _clip(text), "response_type": response_type}
        if blocks:
            body["blocks"] = list(blocks)[:MAX_BLOCKS]
        if replace_original is not None:
            body["replace_original"] = replace_original
        try:
            answer = client.send_dict(body)
        except (URLError, OSError, RemoteDisconnected) as exc:
            raise SlackUnavailable(f"response_url: cannot reach Slack ({exc})") from exc
        if answer.status_code == 200:
            return
        error = (answer.body or "").strip()[:200] or None
        if answer.status_code == 429 or answer.status_code >= 500:
            retry_after = None
            for name, value in (answer.headers or {}).items():
                if name.lower() == "retry-after":
                    retry_after = _float_or_none(value[0] if isinstance(value, list) else value)
            raise SlackUnavailable(
                f"response_url answered {answer.status_code} {error or ''}".strip(),
                error=error,
                status=answer.status_code,
                retry_after=retry_after,
            )
        raise SlackRefused(
            f"response_url answered {answer.status_code} {error or ''}".strip(),
            error=error,
            status=answer.status_code,
        )


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clip(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - 1] + "…"


def _classify_api_error(method: str, exc: SlackApiError) -> SlackError:
    response = exc.response
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, Mapping) else None
    headers = getattr(response, "headers", None) or {}
    retry_after = None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            retry_after = _float_or_none(value[0] if isinstance(value, list) else value)
    message = f"Slack {method} failed: {error or 'unknown error'} (HTTP {status})"
    if status == 429 or (status is not None and status >= 500) or error in TRANSIENT_ERRORS:
        return SlackUnavailable(message, error=error, status=status, retry_after=retry_after)
    return SlackRefused(message, error=error, status=status)
