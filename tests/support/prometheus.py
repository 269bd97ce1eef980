"""A real Prometheus for tests: backfilled from OpenMetrics text, or scraping a local exporter.

Backfilling (``promtool tsdb create-blocks-from openmetrics``) gives fixed data at fixed past
timestamps, so instant queries with ``time=`` return exact, repeatable numbers. Retention is set to
a century so that Prometheus does not delete blocks that are older than its default 15 days.

Scraping: Prometheus reports ready several seconds before its first scrape (service discovery and
the scrape manager pass target updates on a five-second tick), so ``running_prometheus`` waits
until every target has been scraped: a test's clock (a canary's first window) must not start
before the exporter's series exist in Prometheus.

Under ``CI=true`` a missing ``prometheus``/``promtool`` fails the test; elsewhere it skips.
``GITOPS_BOT_TEST_PROMETHEUS`` and ``GITOPS_BOT_TEST_PROMTOOL`` name other binaries.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.requirements import require

READY_TIMEOUT_SECONDS = 30.0
FIRST_SCRAPE_TIMEOUT_SECONDS = 30.0


def prometheus_binaries() -> tuple[str, str] | None:
    prometheus = shutil.which(os.environ.get("GITOPS_BOT_TEST_PROMETHEUS", "prometheus"))
    promtool = shutil.which(os.environ.get("GITOPS_BOT_TEST_PROMTOOL", "promtool"))
    if prometheus is None or promtool is None:
        return None
    return prometheus, promtool


def require_prometheus() -> tuple[str, str]:
    binaries = prometheus_binaries()
    require(binaries is not None, "Prometheus (the prometheus and promtool programs)")
    assert binaries is not None
    return binaries


# --------------------------------------------------------------------------- OpenMetrics data


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_text(labels: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
    merged = {**labels, **(extra or {})}
    if not merged:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in merged.items()) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class OpenMetrics:
    """Builds an OpenMetrics exposition with timestamps, one metric family per block, for backfill."""

    _families: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def _family(self, name: str, kind: str) -> list[str]:
        known = self._families.setdefault(name, (kind, []))
        if known[0] != kind:
            raise ValueError(f"metric family {name} is a {known[0]}, not a {kind}")
        return known[1]

    def counter(self, family: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> None:
        """``family`` without ``_total``; ``points`` are (unix seconds, cumulative value), time ascending."""
        lines = self._family(family, "counter")
        for at, value in points:
            lines.append(f"{family}_total{_label_text(labels)} {_number(value)} {at}")

    def gauge(self, family: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> None:
        lines = self._family(family, "gauge")
        for at, value in points:
            lines.append(f"{family}{_label_text(labels)} {_number(value)} {at}")

    def histogram(
        self,
        family: str,
        labels: Mapping[str, str],
        points: Iterable[tuple[float, Mapping[float, float], float]],
    ) -> None:
        """``points`` are (unix seconds, {upper bound: cumulative count}, sum); +Inf is the count."""
        lines = self._family(family, "histogram")
        for at, buckets, total in points:
            bounds = sorted(buckets)
            if not bounds or not math.isinf(bounds[-1]):
                raise ValueError("a histogram needs a +Inf bucket")
            for bound in bounds:
                bucket_labels = _label_text(labels, {"le": _number(bound)})
                lines.append(f"{family}_bucket{bucket_labels} {_number(buckets[bound])} {at}")
            lines.append(f"{family}_count{_label_text(labels)} {_number(buckets[bounds[-1]])} {at}")
            lines.append(f"{family}_sum{_label_text(labels)} {_number(total)} {at}")

    def text(self) -> str:
        out: list[str] = []
        for name, (kind, lines) in self._families.items():
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)
        out.append("# EOF")
        return "\n".join(out) + "\n"


def backfill(promtool: str, openmetrics: str, tsdb_dir: Path) -> None:
    """Write ``openmetrics`` into blocks under ``tsdb_dir`` (before Prometheus starts)."""
    source = tsdb_dir.parent / "backfill.om.txt"
    source.write_text(openmetrics, encoding="utf-8")
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"promtool backfill failed:\n{completed.stdout}\n{completed.stderr}")


# --------------------------------------------------------------------------- the server


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def wait_for_scrape(self, targets: Sequence[str], timeout: float = FIRST_SCRAPE_TIMEOUT_SECONDS) -> None:
        """Return once each of ``targets`` (``host:port``) has been scraped successfully since this
        call began: what the targets exposed when it was called can then be queried."""
        since = time.time()
        deadline = time.monotonic() + timeout
        while True:
            fresh = self._freshly_up(since)
            if fresh is not None and set(targets) <= fresh:
                return
            if time.monotonic() >= deadline or self.process.poll() is not None:
                raise RuntimeError(
                    f"Prometheus did not scrape {', '.join(sorted(set(targets) - (fresh or set())))} "
                    f"within {timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.05)  # polling interval, bounded by the deadline

    def _freshly_up(self, since: float) -> set[str] | None:
        """The targets whose latest ``up`` sample is 1 and stamped at or after ``since``.

        A range selector returns the raw samples with the scrape's own timestamps; ``up`` is
        committed together with the samples of its scrape, so a fresh ``up`` means they are in.
        """
        query = urllib.parse.urlencode({"query": "up[1m]"})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=2) as answer:
                series = json.load(answer)["data"]["result"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None
        fresh: set[str] = set()
        for item in series:
            at, value = item["values"][-1]
            if float(at) >= since and value == "1":
                fresh.add(item["metric"].get("instance", ""))
        return fresh

    def log_tail(self, lines: int = 30) -> str:
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(scrape_targets: Sequence[str], scrape_interval: str) -> str:
    lines = ["global:", f"  scrape_interval: {scrape_interval}", f"  evaluation_interval: {scrape_interval}"]
    if scrape_targets:
        targets = ", ".join(f'"{target}"' for target in scrape_targets)
        lines += [
            "scrape_configs:",
            "  - job_name: test",
            f"    scrape_interval: {scrape_interval}",
            f"    scrape_timeout: {scrape_interval}",
            f"    static_configs: [{{targets: [{targets}]}}]",
        ]
    return "\n".join(lines) + "\n"


def _wait_ready(server: PrometheusServer, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        with (
            suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as answer,
        ):
            if answer.status == 200:
                return True
        time.sleep(0.05)  # polling interval of the readiness wait, bounded by the deadline
    return False


@contextmanager
def running_prometheus(
    directory: Path,
    *,
    openmetrics: str | None = None,
    scrape_targets: Sequence[str] = (),
    scrape_interval: str = "1s",
) -> Iterator[PrometheusServer]:
    """Start Prometheus on 127.0.0.1 (free port), data under ``directory``; stop it afterwards."""
    prometheus, promtool = require_prometheus()
    directory.mkdir(parents=True, exist_ok=True)
    tsdb_dir = directory / "tsdb"
    if openmetrics is not None:
        backfill(promtool, openmetrics, tsdb_dir)
    config_path = directory / "prometheus.yml"
    config_path.write_text(_config(scrape_targets, scrape_interval), encoding="utf-8")
    log_path = directory / "prometheus.log"

    last_error = ""
    for _attempt in range(3):  # the free port may be taken between probing and binding
        port = _free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={tsdb_dir}",
                    "--storage.tsdb.retention.time=100y",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=directory,
            )
        server = PrometheusServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
        try:
            if _wait_ready(server, time.monotonic() + READY_TIMEOUT_SECONDS):
                if scrape_targets:
                    server.wait_for_scrape(scrape_targets)
                yield server
                return
            last_error = server.log_tail()
        finally:
            server.stop()
        if "address already in use" not in last_error:
            break
    raise RuntimeError(f"Prometheus did not become ready:\n{last_error}")
