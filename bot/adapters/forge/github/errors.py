"""PyGithub and requests errors as the forge port's error types."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from github.GithubException import (
    BadCredentialsException,
    GithubException,
    RateLimitExceededExceedsMaxWait,
    RateLimitExceededException,
    UnknownObjectException,
)

from bot.adapters.forge.port import (
    ForgeAuthError,
    ForgeError,
    ForgeNotFound,
    ForgeRateLimited,
    ForgeUnavailable,
    ForgeValidationError,
)

_RETRY_STATUS = re.compile(r"too many (\d{3}) error responses")


def error_message(error: GithubException) -> str:
    data = error.data if isinstance(error.data, dict) else {}
    message = str(data.get("message") or error.message or f"HTTP {error.status}")
    details = []
    for item in data.get("errors") or ():
        if isinstance(item, dict):
            details.append(str(item.get("message") or f"{item.get('field')} {item.get('code')}".strip()))
        else:
            details.append(str(item))
    return f"{message}: {'; '.join(details)}" if details else message


def retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    lowered = {str(key).lower(): value for key, value in dict(headers).items()}
    value = lowered.get("retry-after")
    if value is not None and str(value).strip().isdigit():
        return float(value)
    reset = lowered.get("x-ratelimit-reset")
    if reset is not None and str(reset).strip().isdigit():
        return max(float(reset) - time.time(), 0.0)
    return None


def translate(error: Exception) -> ForgeError:
    """A PyGithub or requests exception as the port's error type."""
    if isinstance(error, RateLimitExceededExceedsMaxWait):
        return ForgeRateLimited(error_message(error), status=error.status, retry_after=error.wait)
    if isinstance(error, RateLimitExceededException):
        return ForgeRateLimited(
            error_message(error), status=error.status, retry_after=retry_after(error.headers)
        )
    if isinstance(error, UnknownObjectException):
        return ForgeNotFound(error_message(error), status=error.status)
    if isinstance(error, BadCredentialsException):
        return ForgeAuthError(error_message(error), status=error.status)
    if isinstance(error, GithubException):
        message = error_message(error)
        if error.status == 404:
            return ForgeNotFound(message, status=404)
        if error.status in (401, 403):
            return ForgeAuthError(message, status=error.status)
        if error.status == 422:
            return ForgeValidationError(message, status=422)
        if error.status == 429:
            return ForgeRateLimited(message, status=429, retry_after=retry_after(error.headers))
        if error.status >= 500:
            return ForgeUnavailable(message, status=error.status)
        return ForgeError(message, status=error.status)
    if isinstance(error, requests.exceptions.RetryError):
        match = _RETRY_STATUS.search(str(error))
        status = int(match.group(1)) if match else None
        if status in (403, 429):
            return ForgeRateLimited(f"still rate limited after retries ({status})", status=status)
        return ForgeUnavailable(f"GitHub kept failing after retries: {error}", status=status)
    if isinstance(error, requests.exceptions.RequestException):
        return ForgeUnavailable(f"cannot reach GitHub: {error}")
    return ForgeError(str(error))


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except ForgeError:
        raise
    except (GithubException, requests.exceptions.RequestException) as error:
        raise translate(error) from error
