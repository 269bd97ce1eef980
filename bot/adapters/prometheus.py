"""Prometheus instant queries for canary analysis, over ``prometheus_api_client.PrometheusConnect``.

``PrometheusQueries.query_scalar`` answers one number or says why there is none. It never raises
for what Prometheus or the network does: connection refused, timeout, HTTP 5xx, a rejected query
(400/422), an empty result, NaN/Inf, several series — each comes back as ``value=None`` with an
``error`` and a ``kind``, because an unreachable Prometheus makes an interval *inconclusive*, not
failed (``bot.canary.verdict``).

Blocking: this uses ``requests`` underneath. Call it from a worker thread (``asyncio.to_thread``)
in async code. Every request carries a client timeout, and the same budget is sent to Prometheus as
its query ``timeout`` so it abandons the evaluation too.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3 import exceptions as urllib3_exceptions
from urllib3.util.retry import Retry

OutcomeKind = Literal[
    "ok",
    "no_data",
    "not_finite",
    "ambiguous",
    "unexpected_result",
    "bad_query",
    "server_error",
    "http_error",
    "unreachable",
]

_STATUS_MESSAGE = re.compile(r"HTTP Status Code (?P<status>\d+) \((?P<content>.*)\)\s*$", re.DOTALL)
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class QueryOutcome:
    """One instant query's answer: ``value`` is a finite number, or None and ``error`` says why."""

    value: float | None
    error: str | None
    kind: OutcomeKind
    query: str
    series_count: int = 0
    """How many series the answer held (0 empty; 1 for a scalar result)."""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def to_evidence(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "value": self.value,
            "error": self.error,
            "kind": self.kind,
            "series_count": self.series_count,
        }


@dataclass(frozen=True)
class Samples:
    """A range query's values (finite ones only), or why there are none."""

    values: tuple[float, ...]
    error: str | None
    series_count: int = 0


class PrometheusQueries:
    """Instant PromQL queries against one Prometheus (or anything speaking its HTTP API).

    ``timeout_seconds`` bounds each HTTP request; ``retries`` retries connection failures and
    502/503/504 answers briefly (``backoff_seconds`` doubling) before reporting them. The worst case
    for one query is about ``(1 + retries) x timeout_seconds``.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 10.0,
        retries: int = 1,
        backoff_seconds: float = 0.2,
        headers: Mapping[str, str] | None = None,
        verify_tls: bool = True,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Prometheus URL must start with http:// or https://, got {url!r}")
        if not (math.isfinite(timeout_seconds) and timeout_seconds > 0):
            raise ValueError(f"timeout_seconds must be a positive number, got {timeout_seconds!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,  # a query that timed out once would time out again; report it instead
            status=retries,
            backoff_factor=backoff_seconds,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "POST"}),
            raise_on_status=False,  # hand the last answer back, so its error text reaches the user
        )
        self._client = PrometheusConnect(
            url=self.url,
            headers=dict(headers) if headers else None,
            disable_ssl=not verify_tls,
            retry=retry,
            timeout=timeout_seconds,  # type: ignore[arg-type]  # annotated int, passed to requests as is
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusQueries:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def query_scalar(self, promql: str, at: datetime | float | None = None) -> QueryOutcome:
        """Evaluate ``promql`` at ``at`` (a datetime, Unix seconds, or None for Prometheus's now).

        The query must yield one number: a scalar, or a vector with exactly one series (aggregate
        with ``sum``/``avg``/``histogram_quantile(... sum by (le) ...)``). Never raises for a
        failed query; see the module docstring.
        """
        answer = self._request(promql, at)
        if isinstance(answer, QueryOutcome):
            return answer
        return _interpret(promql, answer)

    def _request(self, promql: str, at: datetime | float | None) -> Any:
        """The ``data.result`` of an instant query, or a failed :class:`QueryOutcome` saying why not."""
        params = {"timeout": f"{max(1, int(self.timeout_seconds * 1000))}ms"}
        if at is not None:
            params["time"] = _timestamp(at)
        try:
            return self._client.custom_query(promql, params=params)
        except requests.exceptions.InvalidJSONError as exc:
            # A 200 answer that is not JSON (a proxy's login page, say).
            return _failure(promql, "unexpected_result", f"answer is not a Prometheus API response: {exc}")
        except requests.RequestException as exc:
            if _timed_out(exc):
                return _failure(
                    promql, "unreachable", f"Prometheus did not answer within {self.timeout_seconds}s"
                )
            if isinstance(exc, requests.ConnectionError):
                return _failure(
                    promql, "unreachable", f"cannot reach Prometheus at {self.url}: {_root_cause(exc)}"
                )
            return _failure(promql, "unreachable", f"request to Prometheus failed: {_root_cause(exc)}")
        except PrometheusApiClientException as exc:
            return _http_failure(promql, str(exc))
        except (ValueError, KeyError, TypeError) as exc:
            # JSON, but not shaped like a Prometheus answer.
            return _failure(promql, "unexpected_result", f"answer is not a Prometheus API response: {exc!r}")

    def query_samples(self, promql: str, *, start: datetime, end: datetime, step_seconds: int) -> Samples:
        """Every value of every series of ``promql`` over ``[start, end]`` at ``step_seconds``: the
        statistical judge's samples (one per replica per step). Never raises; see the module docstring."""
        params = {"timeout": f"{max(1, int(self.timeout_seconds * 1000))}ms"}
        try:
            result = self._client.custom_query_range(
                promql, start_time=start, end_time=end, step=f"{step_seconds}s", params=params
            )
        except requests.RequestException as exc:
            if _timed_out(exc):
                return Samples((), f"Prometheus did not answer within {self.timeout_seconds}s")
            return Samples((), f"cannot reach Prometheus at {self.url}: {_root_cause(exc)}")
        except PrometheusApiClientException as exc:
            return Samples((), _http_failure(promql, str(exc)).error)
        except (ValueError, KeyError, TypeError) as exc:
            return Samples((), f"answer is not a Prometheus API response: {exc!r}")
        try:
            values = tuple(float(value) for series in result for _at, value in series.get("values", ()))
        except (TypeError, ValueError, AttributeError) as exc:
            return Samples((), f"unexpected range result: {exc!r}")
        return Samples(tuple(value for value in values if math.isfinite(value)), None, len(result))

    def query_many(
        self, queries: Iterable[str], at: datetime | float | None = None
    ) -> dict[str, QueryOutcome]:
        """Each distinct query once, keyed by its text (for ``evaluate_outcomes``).

        The queries travel together in one request (see :func:`batch_query`), each answer read
        back by its index label, exactly as if it had been sent alone. When the batch is refused
        (one query is invalid, or returns a scalar, which ``label_replace`` does not take) they
        are sent one by one, so each query gets its own answer and error. When Prometheus cannot
        be reached every query gets that answer at once, without a timeout per query.
        """
        distinct = list(dict.fromkeys(queries))
        outcomes: dict[str, QueryOutcome] = {}
        for start in range(0, len(distinct), BATCH_MAX_QUERIES):
            chunk = distinct[start : start + BATCH_MAX_QUERIES]
            answered = self._query_batch(chunk, at) if len(chunk) > 1 else None
            if answered is None:
                answered = {promql: self.query_scalar(promql, at) for promql in chunk}
            outcomes.update(answered)
        return outcomes

    def _query_batch(self, queries: list[str], at: datetime | float | None) -> dict[str, QueryOutcome] | None:
        batch = batch_query(queries)
        answer = self._request(batch, at)
        if isinstance(answer, QueryOutcome):
            if answer.kind == "unreachable":
                return {promql: dataclasses.replace(answer, query=promql) for promql in queries}
            return None
        return split_batch_result(queries, answer)


BATCH_LABEL = "gitops_bot_query"
"""The label that tells the queries of one batch apart in its answer."""
BATCH_MAX_QUERIES = 16


def batch_query(queries: Iterable[str]) -> str:
    """One PromQL expression answering every query: each tagged with its index, joined by ``or``.

    ``label_replace(v, "gitops_bot_query", "<i>", "", "")`` adds the index label to every series of
    query ``i``; series of different queries then differ in that label, so ``or`` keeps them all.
    A newline closes each query, so a trailing ``# comment`` in one cannot swallow the rest.
    """
    return " or ".join(
        f'label_replace((\n{promql}\n), "{BATCH_LABEL}", "{index}", "", "")'
        for index, promql in enumerate(queries)
    )


def split_batch_result(queries: list[str], result: Any) -> dict[str, QueryOutcome] | None:
    """Each query's outcome from a :func:`batch_query` answer; None when the answer is not one."""
    if not isinstance(result, list):
        return None
    per_query: list[list[Any]] = [[] for _ in queries]
    for item in result:
        if not isinstance(item, dict) or "value" not in item:
            return None
        metric = dict(item.get("metric") or {})
        index = metric.pop(BATCH_LABEL, None)
        if index is None or not index.isdigit() or int(index) >= len(queries):
            return None
        per_query[int(index)].append({**item, "metric": metric})
    return {promql: _interpret(promql, items) for promql, items in zip(queries, per_query, strict=True)}


def _timestamp(at: datetime | float) -> str:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("pass an aware datetime (UTC) as the query time")
        return f"{at.astimezone(UTC).timestamp():.3f}"
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        raise ValueError(f"query time must be a datetime or Unix seconds, got {at!r}")
    return f"{float(at):.3f}"


def _interpret(promql: str, result: Any) -> QueryOutcome:
    # custom_query returns data.result only. A scalar (or string) result is [timestamp, "value"];
    # a vector is a list of {"metric", "value"}; a matrix is a list of {"metric", "values"}.
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return _number(promql, result[1], series_count=1)
    if not isinstance(result, list):
        return _failure(promql, "unexpected_result", f"unexpected result shape: {str(result)[:200]}")
    if not result:
        return _failure(promql, "no_data", "no data: the query returned no series")
    if len(result) > 1:
        shown = ", ".join(_labels(item) for item in result[:3])
        more = f" and {len(result) - 3} more" if len(result) > 3 else ""
        return _failure(
            promql,
            "ambiguous",
            f"the query returned {len(result)} series ({shown}{more}); aggregate it to one "
            "(sum, avg, max, or histogram_quantile over sum by (le))",
            series_count=len(result),
        )
    item = result[0]
    if not isinstance(item, dict):
        return _failure(promql, "unexpected_result", f"unexpected result item: {str(item)[:200]}")
    if "values" in item:
        return _failure(
            promql,
            "unexpected_result",
            "the query returns a range vector; wrap it in a function such as rate() or avg_over_time()",
            series_count=1,
        )
    pair = item.get("value")
    if not isinstance(pair, list) or len(pair) != 2:
        return _failure(promql, "unexpected_result", f"series without a value: {str(item)[:200]}")
    return _number(promql, pair[1], series_count=1)


def _number(promql: str, raw: Any, *, series_count: int) -> QueryOutcome:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return _failure(
            promql, "unexpected_result", f"value {raw!r} is not a number", series_count=series_count
        )
    if not math.isfinite(value):
        return _failure(
            promql,
            "not_finite",
            f"no usable value: {raw} (typically a division by zero when there was no traffic)",
            series_count=series_count,
        )
    return QueryOutcome(value=value, error=None, kind="ok", query=promql, series_count=series_count)


def _http_failure(promql: str, message: str) -> QueryOutcome:
    match = _STATUS_MESSAGE.match(message)
    if match is None:
        return _failure(promql, "http_error", f"Prometheus refused the query: {message[:_MAX_ERROR_CHARS]}")
    status = int(match.group("status"))
    detail = _prometheus_error(match.group("content"))
    if status in (400, 422):
        return _failure(promql, "bad_query", f"Prometheus rejected the query (HTTP {status}): {detail}")
    if status >= 500:
        return _failure(promql, "server_error", f"Prometheus failed (HTTP {status}): {detail}")
    return _failure(promql, "http_error", f"Prometheus answered HTTP {status}: {detail}")


def _prometheus_error(content: str) -> str:
    """The ``error`` field of Prometheus's JSON error body, from the client's ``repr(bytes)``."""
    text = content
    try:
        raw = ast.literal_eval(content)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        body = json.loads(text)
        if isinstance(body, dict) and body.get("error"):
            kind = body.get("errorType")
            return f"{kind}: {body['error']}" if kind else str(body["error"])
    except (ValueError, SyntaxError, TypeError):
        pass
    return text.strip()[:_MAX_ERROR_CHARS] or "(empty answer)"


def _labels(item: Any) -> str:
    metric = item.get("metric", {}) if isinstance(item, dict) else {}
    name = metric.get("__name__", "")
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(metric.items()) if key != "__name__")
    return f"{name}{{{inner}}}"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: requests wraps urllib3's MaxRetryError, which wraps the socket error."""
    chain = [exc]
    for _ in range(6):
        current = chain[-1]
        inner = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        reason = getattr(current, "reason", None)
        following = reason if isinstance(reason, BaseException) else inner
        if following is None or following in chain:
            break
        chain.append(following)
    return chain


def _timed_out(exc: BaseException) -> bool:
    # With read retries off, urllib3 reports a read timeout as MaxRetryError(ReadTimeoutError), which
    # requests turns into a ConnectionError rather than a Timeout; look through the wrapping. A refused
    # connection (NewConnectionError) subclasses urllib3's ConnectTimeoutError but is no timeout.
    for cause in _causes(exc):
        if isinstance(cause, urllib3_exceptions.NewConnectionError):
            return False
        if isinstance(cause, requests.Timeout | urllib3_exceptions.TimeoutError | TimeoutError):
            return True
    return False


def _root_cause(exc: BaseException) -> str:
    return str(_causes(exc)[-1])[:_MAX_ERROR_CHARS]


def _failure(promql: str, kind: OutcomeKind, error: str, *, series_count: int = 0) -> QueryOutcome:
    return QueryOutcome(value=None, error=error, kind=kind, query=promql, series_count=series_count)
