"""python-gitlab and requests errors as the forge port's error types; the bounded retry they go through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from gitlab import exceptions as gitlab_errors
from urllib3.util.retry import Retry

from bot.adapters.forge.port import (
    ForgeAuthError,
    ForgeError,
    ForgeNotFound,
    ForgeRateLimited,
    ForgeUnavailable,
    ForgeValidationError,
)

# What GitLab answers when it is overloaded or restarting; 429 is its rate limit.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryWaitTooLong(Exception):
    """GitLab asked (``Retry-After``) for a longer wait than a worker may block."""

    def __init__(self, wait: float, status: int) -> None:
        super().__init__(f"GitLab asked to wait {wait:g}s ({status})")
        self.wait = wait
        self.status = status


class BoundedRetry(Retry):
    """urllib3's retry for GitLab: 429 and 5xx retried with backoff, every method (a 429 or 503 means
    the request was not processed), ``Retry-After`` obeyed up to ``max_retry_wait`` and refused past
    it, so the job queue retries the job later instead of a worker sleeping for minutes."""

    def __init__(self, max_retry_wait: float = 60.0, **kwargs: Any) -> None:
        kwargs.setdefault("status_forcelist", sorted(RETRY_STATUSES))
        kwargs.setdefault("allowed_methods", None)
        kwargs.setdefault("respect_retry_after_header", True)
        kwargs.setdefault("raise_on_status", True)
        super().__init__(**kwargs)
        self.max_retry_wait = max_retry_wait

    def new(self, **kw: Any) -> BoundedRetry:
        kw["max_retry_wait"] = self.max_retry_wait
        return super().new(**kw)  # type: ignore[return-value]

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if response is not None and response.status in RETRY_STATUSES:
            header = response.headers.get("Retry-After")
            if header is not None:
                wait = self.parse_retry_after(header)
                if wait > self.max_retry_wait:
                    raise RetryWaitTooLong(wait, response.status)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def error_message(error: gitlab_errors.GitlabError) -> str:
    """GitLab's own words: ``{"message": ...}`` (text, a list, or field → errors) or ``{"error": ...}``."""
    body = error.response_body
    try:
        data = json.loads(body) if isinstance(body, bytes | str) and body else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = data.get("message", data.get("error"))
        if isinstance(message, dict):
            return "; ".join(f"{field} {' '.join(map(str, problems))}" for field, problems in message.items())
        if isinstance(message, list):
            return "; ".join(map(str, message))
        if message:
            return str(message)
    return str(error.error_message or f"HTTP {error.response_code}")


def translate(error: Exception) -> ForgeError:
    if isinstance(error, RetryWaitTooLong):
        return ForgeRateLimited(str(error), status=error.status, retry_after=error.wait)
    if isinstance(error, gitlab_errors.GitlabError):
        message = error_message(error)
        status = error.response_code
        if status == 404:
            return ForgeNotFound(message, status=404)
        if status in (401, 403) or isinstance(error, gitlab_errors.GitlabAuthenticationError):
            return ForgeAuthError(message, status=status)
        if status in (400, 422):
            return ForgeValidationError(message, status=status)
        if status == 429:
            return ForgeRateLimited(message, status=429)
        if status is not None and status >= 500:
            return ForgeUnavailable(message, status=status)
        return ForgeError(message, status=status)
    if isinstance(error, requests.exceptions.RetryError):
        text = str(error)
        if "429" in text:
            return ForgeRateLimited("GitLab still rate limited after retries", status=429)
        return ForgeUnavailable(f"GitLab kept failing after retries: {text}")
    if isinstance(error, requests.exceptions.RequestException):
        return ForgeUnavailable(f"cannot reach GitLab: {error}")
    return ForgeError(str(error))


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except ForgeError:
        raise
    except (gitlab_errors.GitlabError, requests.exceptions.RequestException, RetryWaitTooLong) as error:
        raise translate(error) from error
