from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.adapters.prometheus import PrometheusQueries
from tests.integration.adapters.prometheus import dataset
from tests.support.prometheus import PrometheusServer, running_prometheus


@pytest.fixture(scope="module")
def backfilled_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One Prometheus per test module, holding ``dataset``; the tests only read from it."""
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics=dataset.build()) as server:
        yield server


@pytest.fixture
def prometheus(backfilled_prometheus: PrometheusServer) -> Iterator[PrometheusQueries]:
    with PrometheusQueries(backfilled_prometheus.url, timeout_seconds=10) as client:
        yield client
