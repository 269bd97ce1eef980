"""The load generator the HTTP benches share: servers on loopback, drivers, latencies, reports.

* :class:`ServerProcess` starts a server as a subprocess on a free loopback port, waits for
  ``/healthz`` and ``/readyz``, reads its CPU time and stops it (SIGINT, then SIGKILL).
* :func:`open_loop` sends on a fixed schedule whether or not earlier requests were answered and
  measures each latency from the *scheduled* send time (no coordinated omission);
  :func:`closed_loop` keeps a fixed number of connections busy; :func:`run_wrk` does the closed
  loop with wrk. All three send a :class:`RequestTemplate` whose only varying part is one id
  header, and collect the ids that were answered 2xx so a bench can check what was stored.
* :class:`LoadResult` holds one run's numbers; :func:`table`, :func:`fmt` and
  :func:`write_results` print and keep them.

Loopback only: every server binds 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_DEADLINE_S = 60.0
SHUTDOWN_GRACE_S = 15.0
REQUEST_TIMEOUT_S = 10.0


# -- CPU readings ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the ")" that ends the command name, utime and stime are fields 12 and 13.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores since boot, from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def machine_cpu_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of all cores that were busy between two readings (100 = every core busy)."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return round(100.0 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def busy_before_start(seconds: float = 1.0) -> float | None:
    """How busy the machine is before we start: other work on it makes every number noisier."""
    before = machine_cpu()
    time.sleep(seconds)
    return machine_cpu_percent(before, machine_cpu())


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def server_environment(extra: dict[str, str], drop_prefix: str = "GITOPS_BOT_") -> dict[str, str]:
    """The parent's environment without any ``drop_prefix`` setting, plus the bench's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop_prefix)}
    # Servers run in a scratch directory (so no stray .env is read): make the
    # repository importable from there even without an editable install.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def bot_command(*args: str, bot_root: Path | None = None) -> list[str]:
    """``python -m bot ARGS``; with ``bot_root``, that checkout's bot with its own templates and
    migrations (``bench/checkout.py``; the environment's PYTHONPATH must point at it)."""
    if bot_root is None:
        return [sys.executable, "-m", "bot", *args]
    return [sys.executable, str(REPO_ROOT / "bench" / "checkout.py"), "-m", "bot", *args]


class ServerProcess:
    """One server as a subprocess in its own session, so Ctrl-C reaches only us.

    ``command`` must accept ``--host H --port P`` (uvicorn-style), which are appended.
    """

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = cwd / f"{name}-server.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*command, "--host", HOST, "--port", str(self.port)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_lines(self) -> list[str]:
        try:
            return [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return []

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_lines()[-lines:])

    def _get(self, path: str) -> int | None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        except OSError:
            return None
        finally:
            connection.close()

    def wait_ready(self, deadline_s: float = STARTUP_DEADLINE_S) -> float:
        """Poll /healthz then /readyz until both answer 200; returns the seconds it took."""
        started = time.monotonic()
        pending = ["/healthz", "/readyz"]
        while pending:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} server exited with status {self.process.returncode} before it was "
                    f"ready; its log ends:\n{self.log_tail()}"
                )
            if time.monotonic() - started > deadline_s:
                raise RuntimeError(
                    f"{self.name} server did not answer 200 on {pending[0]} within {deadline_s:.0f} s; "
                    f"its log ends:\n{self.log_tail()}"
                )
            if self._get(pending[0]) == 200:
                pending.pop(0)
            else:
                time.sleep(0.1)
        return time.monotonic() - started

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGINT (uvicorn's graceful shutdown), then SIGKILL after a grace period."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=SHUTDOWN_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SHUTDOWN_GRACE_S)
        self._log.close()


def _raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    """SIGTERM takes the same clean-up path as Ctrl-C: every server stopped, every temp dir removed."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # A shell without job control starts background commands with SIGINT ignored; take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)


# -- the request -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestTemplate:
    """A POST sent again and again; only ``id_header`` changes, so each request is new to the server."""

    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    id_header: str

    def raw(self, host_header: str, request_id: str) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines += [f"Content-Length: {len(self.body)}", f"{self.id_header}: {request_id}", "", ""]
        return "\r\n".join(lines).encode("ascii") + self.body


# -- a minimal HTTP/1.1 client on asyncio streams ------------------------------------------------
# The Python drivers measure latency themselves; a bare client keeps their own overhead
# (which shares the CPU with the server) far below httpx's.


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    def close(self) -> None:
        self.writer.close()


class _NoResponse(Exception):
    """The connection closed before any byte of a response arrived."""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one whole response; returns (status, keep the connection)."""
    status_line = await reader.readline()
    if not status_line:
        raise _NoResponse()
    status = int(status_line.split(b" ", 2)[1])
    length, chunked, keep = 0, False, True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection" and value == b"close":
            keep = False
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


class ConnectionPool:
    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.opened = 0

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1
        return _Connection(reader, writer)

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection the server has not closed meanwhile.

        uvicorn closes a kept-alive connection after 5 s without a request; its FIN is already
        in the reader, so a closed one is dropped here rather than written to."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def request(self, raw: bytes) -> int:
        async with self._slots:
            for attempt in range(2):
                # A retry always takes a new connection: another idle one may be just as stale.
                connection = (self._take_idle() if attempt == 0 else None) or await self._open()
                reused = connection.used
                connection.used = True
                try:
                    connection.writer.write(raw)
                    await connection.writer.drain()
                    status, keep = await _read_response(connection.reader)
                except (_NoResponse, ConnectionResetError, BrokenPipeError) as exc:
                    connection.close()
                    # A kept-alive connection the server closed meanwhile: retry once on a new one,
                    # as every HTTP client does. The request id is the same, so no double event.
                    if reused:
                        continue
                    raise ConnectionError(str(exc) or type(exc).__name__) from exc
                except BaseException:
                    connection.close()
                    raise
                if keep:
                    self._idle.append(connection)
                else:
                    connection.close()
                return status
            raise ConnectionError("the server closed the connection twice without answering")

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


# -- results -----------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def ms_summary(latencies_s: Sequence[float]) -> dict[str, float | None]:
    ordered = sorted(latencies_s)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 3)

    return {
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p90_ms": ms(percentile(ordered, 0.90)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "p999_ms": ms(percentile(ordered, 0.999)),
        "max_ms": ms(ordered[-1] if ordered else None),
    }


@dataclass
class LoadResult:
    """One run of one generator against one server."""

    generator: str  # wrk | python-closed | python-open
    duration_s: float
    sent: int
    answered: int
    ok_2xx: int
    non_2xx: int
    socket_errors: int
    statuses: dict[str, int]
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    generator_cpu_s: float | None = None
    server_cpu_s: float | None = None
    machine_cpu_percent: float | None = None
    target_rate: float | None = None
    max_send_lag_ms: float | None = None
    prefix: str = ""
    acknowledged_ids: list[str] | None = field(default=None, repr=False)
    raw_output: str | None = field(default=None, repr=False)
    # What the server kept of it, filled in by a bench that can read its store.
    stored: int | None = None
    lost: int | None = None
    lost_upper_bound: int | None = None
    stored_unacknowledged: int | None = None
    stored_statuses: dict[str, int] | None = None
    # What each socket error was (exception type and message), so a run says why it failed.
    socket_error_kinds: dict[str, int] | None = None

    @property
    def accepted_per_s(self) -> float:
        return self.ok_2xx / self.duration_s if self.duration_s else 0.0

    @property
    def in_flight_at_end(self) -> int:
        return max(0, self.sent - self.answered - self.socket_errors)

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.ok_2xx:
            return None
        return 1000.0 * self.server_cpu_s / self.ok_2xx

    @property
    def server_cpu_percent(self) -> float | None:
        if self.server_cpu_s is None or not self.duration_s:
            return None
        return 100.0 * self.server_cpu_s / self.duration_s

    @property
    def generator_cpu_percent(self) -> float | None:
        if not self.generator_cpu_s or not self.duration_s:
            return None
        return 100.0 * self.generator_cpu_s / self.duration_s

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("acknowledged_ids")
        data.update(
            accepted_per_s=round(self.accepted_per_s, 1),
            in_flight_at_end=self.in_flight_at_end,
            server_cpu_percent=None if self.server_cpu_percent is None else round(self.server_cpu_percent),
            server_cpu_ms_per_request=(
                None if self.server_cpu_ms_per_request is None else round(self.server_cpu_ms_per_request, 3)
            ),
        )
        return data


class _Tally:
    """What a Python driver saw: latencies, statuses, the ids answered 2xx, errors."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.acknowledged: list[str] = []
        self.errors = 0
        self.error_kinds: dict[str, int] = {}

    async def send(self, pool: ConnectionPool, raw: bytes, request_id: str, started: float) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status = await pool.request(raw)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self.errors += 1
            kind = f"{type(exc).__name__}: {exc}"[:120]
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
            return
        self.latencies.append(time.perf_counter() - started)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if 200 <= status < 300:
            self.acknowledged.append(request_id)

    def result(
        self, generator: str, elapsed: float, sent: int, cpu_before: float, machine_before: Any, **extra: Any
    ) -> LoadResult:
        ok = sum(count for status, count in self.statuses.items() if status.startswith("2"))
        return LoadResult(
            generator=generator,
            duration_s=round(elapsed, 3),
            sent=sent,
            answered=len(self.latencies),
            ok_2xx=ok,
            non_2xx=len(self.latencies) - ok,
            socket_errors=self.errors,
            socket_error_kinds=self.error_kinds or None,
            statuses=self.statuses,
            generator_cpu_s=round(self_cpu() - cpu_before, 3),
            machine_cpu_percent=machine_cpu_percent(machine_before, machine_cpu()),
            acknowledged_ids=self.acknowledged,
            **extra,
            **ms_summary(self.latencies),
        )


# -- the drivers -------------------------------------------------------------------------------


def event_loop_runner() -> Callable[[Awaitable[Any]], Any]:
    """uvloop when present (uvicorn[standard] brings it): less client overhead on shared cores."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run  # type: ignore[return-value]
    return uvloop.run  # type: ignore[no-any-return]


async def open_loop(
    port: int, template: RequestTemplate, prefix: str, rate: float, duration_s: float, max_connections: int
) -> LoadResult:
    """``rate`` requests/s for ``duration_s``, each latency from its scheduled send time."""
    pool = ConnectionPool(HOST, port, max_connections)
    host_header = f"{HOST}:{port}"
    total = max(1, round(rate * duration_s))
    tally = _Tally()
    max_lag = 0.0
    cpu_before, machine_before = self_cpu(), machine_cpu()
    # perf_counter, not loop.time(): uvloop's clock has millisecond resolution.
    start = time.perf_counter() + 0.05
    tasks: list[asyncio.Task[None]] = []
    try:
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            max_lag = max(max_lag, time.perf_counter() - scheduled)
            request_id = f"{prefix}-{index}"
            # From the scheduled time: a wait for a connection or for the driver itself counts.
            send = tally.send(pool, template.raw(host_header, request_id), request_id, scheduled)
            tasks.append(asyncio.create_task(send))
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        pool.close()
    elapsed = time.perf_counter() - start
    return tally.result(
        "python-open",
        elapsed,
        total,
        cpu_before,
        machine_before,
        target_rate=rate,
        max_send_lag_ms=round(max_lag * 1000.0, 3),
        prefix=prefix,
    )


async def closed_loop(
    port: int, template: RequestTemplate, prefix: str, concurrency: int, duration_s: float
) -> LoadResult:
    """``concurrency`` connections, each sending its next request as soon as it is answered."""
    pool = ConnectionPool(HOST, port, concurrency)
    host_header = f"{HOST}:{port}"
    tally = _Tally()
    sent = 0
    deadline = time.perf_counter() + duration_s

    async def client(client_id: int) -> None:
        nonlocal sent
        sequence = 0
        while time.perf_counter() < deadline:
            sequence += 1
            sent += 1
            request_id = f"{prefix}-{client_id}-{sequence}"
            raw = template.raw(host_header, request_id)
            await tally.send(pool, raw, request_id, time.perf_counter())

    cpu_before, machine_before = self_cpu(), machine_cpu()
    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(index) for index in range(concurrency)))
    finally:
        pool.close()
    elapsed = time.perf_counter() - started
    return tally.result("python-closed", elapsed, sent, cpu_before, machine_before, prefix=prefix)


def run_python(server: ServerProcess, driver: Awaitable[LoadResult]) -> LoadResult:
    """Run one Python driver, and note how much CPU the server used meanwhile."""
    server_before = server.cpu_seconds()
    result: LoadResult = event_loop_runner()(driver)
    server_after = server.cpu_seconds()
    if server_before is not None and server_after is not None:
        result.server_cpu_s = round(server_after - server_before, 3)
    return result


# wrk: each thread has its own Lua state. `setup` runs in the main state once per thread
# (so it can number them and keep them for `done`); `init` runs inside each thread.
# The UPPER-CASE names are replaced by Lua literals before the script is written.
WRK_SCRIPT = r"""
local acknowledged_path = ACKNOWLEDGED_PATH
local threads = {}
local next_thread_id = 0

function setup(thread)
  next_thread_id = next_thread_id + 1
  thread:set("thread_id", next_thread_id)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  payload = file:read("*a")
  file:close()
  prefix = args[2]
  sent, ok, failed = 0, 0, 0
  statuses = {}
  acknowledged, acknowledged_count = {}, 0
  request_headers = REQUEST_HEADERS
end

function request()
  sent = sent + 1
  request_headers[ID_HEADER] = prefix .. "-" .. thread_id .. "-" .. sent
  return wrk.format("POST", nil, request_headers, payload)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    -- The server's answer names the request it stored: collect them for an exact loss count.
    local request_id = body and string.match(body, ACK_PATTERN)
    if request_id then
      acknowledged_count = acknowledged_count + 1
      acknowledged[acknowledged_count] = request_id
    end
  else
    failed = failed + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total_sent, total_ok, total_failed = 0, 0, 0
  local by_status = {}
  local out = assert(io.open(acknowledged_path, "w"))
  for _, thread in ipairs(threads) do
    for _, request_id in ipairs(thread:get("acknowledged")) do
      out:write(request_id, "\n")
    end
    total_sent = total_sent + thread:get("sent")
    total_ok = total_ok + thread:get("ok")
    total_failed = total_failed + thread:get("failed")
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  out:close()
  local e = summary.errors
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH sent %d\n", total_sent))
  io.write(string.format("BENCH ok %d\n", total_ok))
  io.write(string.format("BENCH failed %d\n", total_failed))
  io.write(string.format("BENCH socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("BENCH max_us %d\n", latency.max))
  for status, count in pairs(by_status) do
    io.write(string.format("BENCH status_%d %d\n", status, count))
  end
end
"""


def wrk_version(wrk: str) -> str:
    # `wrk --version` prints the version line, then the usage, and exits 1.
    completed = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    lines = (completed.stdout or completed.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


def _wrk_script(template: RequestTemplate, acknowledged_file: Path, ack_field: str) -> str:
    # A JSON string literal of printable ASCII is a valid Lua string literal.
    headers = ", ".join(f"[{json.dumps(name)}] = {json.dumps(value)}" for name, value in template.headers)
    replacements = {
        "ACKNOWLEDGED_PATH": json.dumps(str(acknowledged_file)),
        "REQUEST_HEADERS": "{" + headers + "}",
        "ID_HEADER": json.dumps(template.id_header),
        "ACK_PATTERN": json.dumps(f'"{ack_field}"%s*:%s*"([^"]+)"'),
    }
    script = WRK_SCRIPT
    for name, literal in replacements.items():
        script = script.replace(name, literal, 1)
    return script


def _read_wrk(stdout: str, stderr: str) -> dict[str, int]:
    values = {
        match.group(1): int(float(match.group(2)))
        for match in re.finditer(r"^BENCH (\S+) (\S+)$", stdout, flags=re.MULTILINE)
    }
    needed = ("duration_us", "requests", "sent", "ok", "failed", "socket_errors", "p50_us", "p99_us")
    missing = [name for name in needed if name not in values]
    if missing:
        raise RuntimeError(f"could not read {', '.join(missing)} from wrk's output:\n{stdout}\n{stderr}")
    return values


def run_wrk(
    wrk: str,
    server: ServerProcess,
    template: RequestTemplate,
    prefix: str,
    concurrency: int,
    duration_s: int,
    scratch: Path,
    ack_field: str = "delivery_id",
) -> LoadResult:
    """The closed loop with wrk; ``ack_field`` names the request id in the server's 2xx answers."""
    acknowledged_file = scratch / f"{prefix}-acknowledged.txt"
    script = scratch / "load.lua"
    script.write_text(_wrk_script(template, acknowledged_file, ack_field))
    body_file = scratch / "body.bin"
    body_file.write_bytes(template.body)
    command = [
        wrk,
        f"-t{max(1, min(2, concurrency))}",
        f"-c{concurrency}",
        f"-d{duration_s}s",
        "--latency",
        "--timeout",
        f"{int(REQUEST_TIMEOUT_S)}s",
        "-s",
        str(script),
        server.base_url + template.path,
        "--",
        str(body_file),
        prefix,
    ]
    children_before, machine_before = children_cpu(), machine_cpu()
    server_before = server.cpu_seconds()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=duration_s + 60)
    except BaseException:
        process.kill()
        process.wait()
        raise
    server_after, machine_after = server.cpu_seconds(), machine_cpu()
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with status {process.returncode}:\n{stderr}\n{stdout}")
    values = _read_wrk(stdout, stderr)

    def ms(key: str) -> float | None:
        return round(values[key] / 1000.0, 3) if key in values else None

    acknowledged = acknowledged_file.read_text().split() if acknowledged_file.exists() else []
    return LoadResult(
        generator="wrk",
        duration_s=round(values["duration_us"] / 1e6, 3),
        sent=values["sent"],
        answered=values["ok"] + values["failed"],
        ok_2xx=values["ok"],
        non_2xx=values["failed"],
        socket_errors=values["socket_errors"],
        statuses={key.removeprefix("status_"): v for key, v in values.items() if key.startswith("status_")},
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        p999_ms=ms("p99.9_us"),
        max_ms=ms("max_us"),
        generator_cpu_s=round(children_cpu() - children_before, 3),
        server_cpu_s=None if server_before is None or server_after is None else server_after - server_before,
        machine_cpu_percent=machine_cpu_percent(machine_before, machine_after),
        prefix=prefix,
        # Only usable when every 2xx answer named its request (a bare route's answers name none).
        acknowledged_ids=acknowledged if len(acknowledged) == values["ok"] else None,
        raw_output=stdout,
    )


# -- what the server kept ---------------------------------------------------------------------


class RunStore(Protocol):
    """Where a bench reads back what the server stored of a run, by request-id prefix."""

    def wait_settled(self, prefix: str, expected_at_most: int) -> int: ...
    def statuses(self, prefix: str) -> dict[str, int]: ...
    def delivery_ids(self, prefix: str) -> set[str]: ...


def settled_count(count: Callable[[], int], expected_at_most: int, deadline_s: float, quiet_s: float) -> int:
    """``count()`` once it stops changing: requests still in flight at the end may commit late."""
    deadline = time.monotonic() + deadline_s
    last, quiet_since = count(), time.monotonic()
    while time.monotonic() < deadline:
        if last >= expected_at_most and time.monotonic() - quiet_since >= 0.1:
            return last
        time.sleep(0.1)
        current = count()
        if current != last:
            last, quiet_since = current, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return last
    return last


def account(result: LoadResult, store: RunStore) -> None:
    """Compare what was acknowledged with what was stored, exactly where the ids are known."""
    stored = store.wait_settled(result.prefix, result.sent)
    result.stored = stored
    result.stored_statuses = store.statuses(result.prefix)
    if result.acknowledged_ids is not None:
        # Every acknowledged id is known (the Python drivers send them; the server's
        # answers name them for wrk): the count is exact.
        stored_ids = store.delivery_ids(result.prefix)
        acknowledged = set(result.acknowledged_ids)
        result.lost = result.lost_upper_bound = len(acknowledged - stored_ids)
        result.stored_unacknowledged = len(stored_ids - acknowledged)
        return
    # Counts only. Requests wrk abandoned at the deadline (sent, never answered) may or may
    # not have been stored, so "2xx minus stored" is exact only up to those.
    unanswered = max(0, result.sent - result.answered)
    result.lost = max(0, result.ok_2xx - stored)
    result.lost_upper_bound = max(0, result.ok_2xx + unanswered - stored)
    result.stored_unacknowledged = max(0, stored - result.ok_2xx)


# -- printing and keeping results ----------------------------------------------------------------


def fmt(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Right-aligned columns, a rule under the headers."""
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
    lines = ["  ".join(header.rjust(width) for header, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Goal:
    target: str
    goal: str
    met: bool | None  # None: could not be judged
    detail: str

    def line(self) -> str:
        verdict = {True: "MET", False: "NOT MET", None: "UNKNOWN"}[self.met]
        return f"  {self.target:<9} {self.goal:<34} {verdict:<8} {self.detail}"


def git_commit() -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None


def write_results(output_dir: Path, name: str, started_at: datetime, document: dict[str, Any]) -> Path:
    """``<output_dir>/<name>-<UTC timestamp>.json``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{name}-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    output.write_text(json.dumps(document, indent=2) + "\n")
    return output


def lost_text(result: LoadResult) -> str:
    """``lost``, or ``lo..hi`` when only counts (not ids) could be compared."""
    if result.lost is None:
        return "-"
    if result.lost_upper_bound is not None and result.lost_upper_bound != result.lost:
        return f"{result.lost}..{result.lost_upper_bound}"
    return str(result.lost)


CLOSED_COLUMNS = [
    "target",
    "accepted/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "non-2xx",
    "sock err",
    "sent",
    "stored",
    "lost",
    "srv CPU%",
    "srv ms/req",
    "gen CPU%",
    "all CPU%",
]
OPEN_COLUMNS = [
    "target",
    "ok/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "failed",
    "stored",
    "lost",
    "srv CPU%",
    "all CPU%",
]


def closed_row(name: str, run: LoadResult) -> list[str]:
    """One row under CLOSED_COLUMNS."""
    return [
        name,
        fmt(run.accepted_per_s, 0),
        fmt(run.p50_ms, 2),
        fmt(run.p99_ms, 2),
        fmt(run.max_ms, 1),
        str(run.non_2xx),
        str(run.socket_errors),
        str(run.sent),
        fmt(run.stored),
        lost_text(run),
        fmt(run.server_cpu_percent, 0),
        fmt(run.server_cpu_ms_per_request, 2),
        fmt(run.generator_cpu_percent, 0),
        fmt(run.machine_cpu_percent, 0),
    ]


def open_row(name: str, run: LoadResult) -> list[str]:
    """One row under OPEN_COLUMNS."""
    return [
        name,
        fmt(run.accepted_per_s, 0),
        fmt(run.p50_ms, 2),
        fmt(run.p99_ms, 2),
        fmt(run.p999_ms, 2),
        fmt(run.max_ms, 1),
        str(run.non_2xx + run.socket_errors),
        fmt(run.stored),
        lost_text(run),
        fmt(run.server_cpu_percent, 0),
        fmt(run.machine_cpu_percent, 0),
    ]
