"""How the GitHub adapter retries: PyGithub's ``GithubRetry`` with every wait bounded.

``GithubRetry`` already retries 5xx answers, and 403 rate-limit answers (waiting for
``Retry-After``, for ``X-RateLimit-Reset`` on the primary limit, or ``secondary_rate_wait``
on a secondary limit). Two gaps are closed here:

* a 429 is not in its status list, and urllib3 only retries a 429 that carries
  ``Retry-After``. GitHub answers 429 for secondary rate limits too, sometimes without the
  header; its documentation asks for a wait of at least a minute, growing exponentially while
  the limit persists. That is what happens here (``secondary_rate_wait`` doubling).
* a ``Retry-After`` is obeyed whatever its size (urllib3 caps it at six hours). A worker
  thread must not block that long: any wait over ``max_retry_wait`` raises
  ``RateLimitExceededExceedsMaxWait`` carrying the wait, so the job queue can retry later.
"""

from __future__ import annotations

import json
from typing import Any

from github.GithubException import RateLimitExceededExceedsMaxWait
from github.GithubRetry import GithubRetry
from urllib3.util.retry import Retry

RATE_LIMIT_STATUSES = frozenset({403, 429})


class BoundedGithubRetry(GithubRetry):
    def __init__(
        self,
        max_retry_wait: float = 60.0,
        secondary_rate_wait: float = 60.0,
        max_rate_limit_wait: float | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])
        # Every method: rate-limit answers mean the request was not processed, and for 5xx a
        # PATCH/PUT sets state (repeatable) while POST is retried as PyGithub does, accepting a
        # rare duplicate comment over a lost one.
        kwargs.setdefault("allowed_methods", None)
        super().__init__(
            secondary_rate_wait=secondary_rate_wait,
            max_rate_limit_wait=max_retry_wait if max_rate_limit_wait is None else max_rate_limit_wait,
            **kwargs,
        )
        self.max_retry_wait = max_retry_wait

    def new(self, **kw: Any) -> BoundedGithubRetry:
        kw["max_retry_wait"] = self.max_retry_wait
        return super().new(**kw)

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if response is not None and response.status in RATE_LIMIT_STATUSES:
            header = response.headers.get("Retry-After")
            if header is not None:
                wait = self.parse_retry_after(header)
                if wait > self.max_retry_wait:
                    raise self._too_long(response, url, wait)
            elif response.status == 429:
                retry = Retry.increment(self, method, url, response, error, _pool, _stacktrace)
                limited = sum(1 for entry in retry.history if entry.status == 429)
                wait = self.secondary_rate_wait * 2 ** (limited - 1)
                if wait > self.max_retry_wait:
                    raise self._too_long(response, url, wait)

                def backoff() -> float:
                    return wait

                retry.get_backoff_time = backoff  # type: ignore[method-assign]
                return retry
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def _too_long(self, response: Any, url: str | None, wait: float) -> RateLimitExceededExceedsMaxWait:
        try:
            data = json.loads(self.get_content(response, url or ""))
        except (ValueError, TypeError):
            data = {"message": f"rate limited ({response.status})"}
        return RateLimitExceededExceedsMaxWait(
            response.status, data, dict(response.headers), f"rate limited: asked to wait {wait:g}s", wait=wait
        )
