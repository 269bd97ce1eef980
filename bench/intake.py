"""Intake benchmark: signed GitHub webhooks against `gitops-bot serve`, beside a bare route.

For each target -- a bare FastAPI route that only answers 202 (``bench/bare_app.py``), the
floor (``bench/floor_app.py``: the least any intake that stores before it answers can do, with
nothing of the bot), `gitops-bot serve` on a fresh SQLite file, and `gitops-bot serve` on a
private PostgreSQL schema -- it starts the server as a subprocess on a free loopback port and
runs, in this order:

1. a short warm-up (not measured);
2. an open-loop run at a fixed rate (default 200 requests/s for 10 s). Each request's
   latency is measured from the moment it was *scheduled*, not from when it was sent,
   so a stalled server cannot hide its stall (no coordinated omission);
3. a closed-loop saturation run with wrk (default concurrency 32 for 20 s), or a
   Python generator when wrk is not installed.

Every request carries the same signed ``pull_request`` body (``bench/fixtures/intake.json``,
with the defaults and goals) and a unique ``X-GitHub-Delivery``, so each is a new event. After
each run against the bot the rows in ``events`` with that run's delivery-id prefix are counted:
an event answered 2xx but not stored is *lost*. The goals: at least half the bare route's
throughput, p99 under 50 ms at 200 requests/s, zero lost. The load generator, the servers and
the printing are ``bench/load.py``'s; this file is the scenario.

    .venv/bin/python bench/intake.py [--duration 20] [--concurrency 32] [--rate 200]
                                     [--targets bare,floor,sqlite,postgres] [--skip-postgres]

Not a test: `make bench` runs it; `make test` never does.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from bench.load import Goal, LoadResult, RequestTemplate, ServerProcess, fmt

BENCH_DIR = Path(__file__).resolve().parent
FIXTURE = json.loads((BENCH_DIR / "fixtures" / "intake.json").read_text())
DEFAULTS: dict[str, Any] = FIXTURE["defaults"]
GOAL_THROUGHPUT_RATIO: float = FIXTURE["goals"]["throughput_ratio"]
GOAL_P99_MS: float = FIXTURE["goals"]["p99_ms"]
DEFAULT_POSTGRES_URL = os.environ.get(
    "GITOPS_BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ALL_TARGETS = ("bare", "floor", "sqlite", "postgres")
# Neither is the bot: the anchors its goals are read against.
ANCHORS = ("bare", "floor")
DESCRIPTIONS = {
    "bare": "FastAPI route that reads the body and answers 202 (bench/bare_app.py)",
    "floor": "the least a stored-before-answered intake does: HMAC, orjson, sqlite3 group commit "
    "(bench/floor_app.py)",
    "sqlite": "gitops-bot serve, SQLite file (WAL) in a temporary directory",
    "postgres": "gitops-bot serve, PostgreSQL, fresh private schema",
}
# After a run, rows may still be committing for requests that were in flight.
DRAIN_DEADLINE_S = 15.0
DRAIN_QUIET_S = 0.5
# Above this share of all cores busy before the start, the report warns that others are running.
BUSY_WARNING_PERCENT = 15.0


# -- the request ---------------------------------------------------------------------------


def github_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` as GitHub computes it (written out here, not imported from the bot)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_request(body: bytes, event: str, secret: str) -> RequestTemplate:
    """Signed once (the signature covers only the body); the delivery id makes each request new."""
    headers = {
        **FIXTURE["headers"],
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": github_signature(secret, body),
    }
    return RequestTemplate(FIXTURE["path"], body, tuple(headers.items()), id_header="X-GitHub-Delivery")


def request_body(payload: Path | None) -> bytes:
    if payload is None:
        return json.dumps(FIXTURE["payload"], separators=(",", ":")).encode()  # compact, as GitHub sends
    body = payload.read_bytes()
    try:
        json.loads(body)
    except ValueError as exc:
        raise SystemExit(f"--payload {payload} is not JSON: {exc}") from exc
    return body


# -- what the bot stored ---------------------------------------------------------------------


class EventStore:
    """Reads back the bot's ``events`` rows by delivery-id prefix (each run has its own)."""

    def __init__(
        self, description: str, table: str, placeholder: str, query: Callable[..., list[Any]]
    ) -> None:
        self.description = description
        self._table, self._placeholder, self._query = table, placeholder, query

    def _select(self, columns: str, prefix: str, tail: str = "") -> list[Any]:
        sql = (
            f"SELECT {columns} FROM {self._table} "
            f"WHERE source = 'github' AND delivery_id LIKE {self._placeholder}{tail}"
        )
        return self._query(sql, [prefix + "%"])

    def delivery_ids(self, prefix: str) -> set[str]:
        return {row[0] for row in self._select("delivery_id", prefix)}

    def count(self, prefix: str) -> int:
        return int(self._select("count(*)", prefix)[0][0])

    def statuses(self, prefix: str) -> dict[str, int]:
        rows = self._select("status, count(*)", prefix, " GROUP BY status")
        return {str(status): int(count) for status, count in rows}

    def wait_settled(self, prefix: str, expected_at_most: int) -> int:
        return load.settled_count(
            lambda: self.count(prefix), expected_at_most, DRAIN_DEADLINE_S, DRAIN_QUIET_S
        )


def sqlite_store(path: Path) -> EventStore:
    def query(sql: str, parameters: Sequence[Any]) -> list[Any]:
        connection = sqlite3.connect(path, timeout=30)
        try:
            return list(connection.execute(sql, parameters))
        finally:
            connection.close()

    return EventStore(f"SQLite file ({path.name}, WAL)", "events", "?", query)


def postgres_store(conninfo: str, schema: str) -> EventStore:
    def query(sql: str, parameters: Sequence[Any]) -> list[Any]:
        import psycopg

        with psycopg.connect(conninfo, autocommit=True) as connection:
            return list(connection.execute(sql, parameters))

    return EventStore(f"PostgreSQL schema {schema}", f'"{schema}".events', "%s", query)


@contextlib.contextmanager
def postgres_schema(server_url: str) -> Iterator[tuple[str, str, str]]:
    """A fresh private schema: yields (SQLAlchemy URL for the bot, psycopg conninfo, schema)."""
    import psycopg

    schema = f"gitops_bot_bench_{uuid.uuid4().hex[:12]}"
    conninfo = server_url.replace("+psycopg", "")
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in server_url else "?"
        yield f"{server_url}{separator}options=-csearch_path%3D{schema}", conninfo, schema
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_problem(server_url: str) -> str | None:
    """None when the server answers; else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(server_url.replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {server_url} is unreachable: {str(exc).strip()}"


# -- the targets ------------------------------------------------------------------------------


@dataclass
class TargetReport:
    name: str
    description: str
    status: str = "not run"  # ok | skipped | failed
    reason: str | None = None
    startup_s: float | None = None
    open_loop: LoadResult | None = None
    closed_loop: LoadResult | None = None
    server_log_lines: int = 0
    server_log_sample: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["open_loop"] = self.open_loop.as_json() if self.open_loop else None
        data["closed_loop"] = self.closed_loop.as_json() if self.closed_loop else None
        return data


@dataclass(frozen=True)
class Options:
    duration: int
    concurrency: int
    rate: float
    open_loop_duration: float
    warmup: float
    targets: tuple[str, ...]
    postgres_url: str
    payload: Path | None
    event: str
    output_dir: Path
    generator: str  # auto | wrk | python
    no_workers: bool = False  # serve --no-workers: the intake alone, the events' jobs left queued


def migrate(env: dict[str, str], cwd: Path, bot_root: Path | None = None) -> None:
    completed = subprocess.run(
        load.bot_command("migrate", bot_root=bot_root),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"`gitops-bot migrate` failed:\n{completed.stdout}\n{completed.stderr}")


def warm_up(server: ServerProcess, request: RequestTemplate, seconds: float) -> None:
    if seconds <= 0:
        return
    result = load.run_python(
        server, load.closed_loop(server.port, request, f"warmup-{uuid.uuid4().hex[:8]}", 4, seconds)
    )
    if result.ok_2xx == 0:
        raise RuntimeError(
            f"{server.name}: no 2xx answer during warm-up (statuses {result.statuses}, "
            f"{result.socket_errors} socket errors); server log ends:\n{server.log_tail()}"
        )


def bench_target(
    report: TargetReport,
    server: ServerProcess,
    store: EventStore | None,
    request: RequestTemplate,
    options: Options,
    wrk: str | None,
    scratch: Path,
) -> None:
    report.startup_s = round(server.wait_ready(), 2)
    print(f"  {report.name}: ready in {report.startup_s:.1f} s on {server.base_url}", flush=True)
    warm_up(server, request, options.warmup)
    run_id = secrets.token_hex(4)
    print(
        f"  {report.name}: open loop, {options.rate:g} requests/s for {options.open_loop_duration:g} s",
        flush=True,
    )
    report.open_loop = load.run_python(
        server,
        load.open_loop(
            server.port,
            request,
            f"bench-{run_id}-open",
            options.rate,
            options.open_loop_duration,
            max(64, options.concurrency),
        ),
    )
    print(
        f"  {report.name}: closed loop, concurrency {options.concurrency} for {options.duration} s "
        f"({'wrk' if wrk else 'Python generator'})",
        flush=True,
    )
    prefix = f"bench-{run_id}-closed"
    if wrk:
        report.closed_loop = load.run_wrk(
            wrk, server, request, prefix, options.concurrency, options.duration, scratch
        )
    else:
        driver = load.closed_loop(server.port, request, prefix, options.concurrency, options.duration)
        report.closed_loop = load.run_python(server, driver)
    for result in (report.open_loop, report.closed_loop):
        if store is not None:
            load.account(result, store)
    if server.process.poll() is not None:
        raise RuntimeError(f"{report.name} server died during the run; log ends:\n{server.log_tail()}")
    lines = server.log_lines()
    report.server_log_lines, report.server_log_sample = len(lines), lines[:5]
    report.status = "ok"


def start_target(
    name: str, options: Options, secret: str, workdir: Path, stack: contextlib.ExitStack
) -> tuple[ServerProcess, EventStore | None] | str:
    """The target's server, started (and stopped by ``stack``), with its store; or why it is skipped."""
    if name == "bare":
        command, env, store = (
            [sys.executable, str(BENCH_DIR / "bare_app.py")],
            load.server_environment({}),
            None,
        )
    elif name == "floor":
        database = workdir / "floor.db"
        command, env, store = (
            [sys.executable, str(BENCH_DIR / "floor_app.py"), "--database", str(database)],
            load.server_environment({"GITOPS_BOT_GITHUB_WEBHOOK_SECRET": secret}),
            sqlite_store(database),
        )
    else:
        if name == "sqlite":
            url, store = f"sqlite:///{workdir / 'gitops-bot.db'}", sqlite_store(workdir / "gitops-bot.db")
        else:
            problem = postgres_problem(options.postgres_url)
            if problem:
                return problem
            url, conninfo, schema = stack.enter_context(postgres_schema(options.postgres_url))
            store = postgres_store(conninfo, schema)
        env = load.server_environment(
            {
                "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": secret,
                # WARNING: per-event INFO log lines would otherwise be a large part of the work measured.
                "GITOPS_BOT_LOG_LEVEL": "WARNING",
                # Never act on anything, whatever credentials the environment holds.
                "GITOPS_BOT_DRY_RUN": "true",
                "GITOPS_BOT_DATABASE_URL": url,
                "GITOPS_BOT_DATA_DIR": str(workdir / "data"),
            }
        )
        migrate(env, workdir)
        command = [sys.executable, "-m", "bot", "serve", *(["--no-workers"] if options.no_workers else [])]
    server = ServerProcess(name, command, env, workdir)
    stack.callback(server.stop)
    return server, store


def run_targets(
    options: Options, request: RequestTemplate, secret: str, wrk: str | None
) -> list[TargetReport]:
    reports = [TargetReport(name, DESCRIPTIONS[name]) for name in options.targets]
    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-") as scratch_name:
        for report in reports:
            print(f"\n[{report.name}] {report.description}", flush=True)
            workdir = Path(scratch_name) / report.name
            workdir.mkdir()
            try:
                with contextlib.ExitStack() as stack:
                    started = start_target(report.name, options, secret, workdir, stack)
                    if isinstance(started, str):
                        report.status, report.reason = "skipped", started
                        print(f"  skipped: {started}", flush=True)
                        continue
                    bench_target(report, *started, request, options, wrk, workdir)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                report.status, report.reason = "failed", str(exc)
                print(f"  FAILED: {exc}", flush=True)
            except Exception as exc:  # a database error from a driver, say: report it, go on
                report.status, report.reason = "failed", f"{type(exc).__name__}: {exc}"
                print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
    return reports


# -- judging and printing ------------------------------------------------------------------------


def lost_goal(report: TargetReport) -> Goal:
    runs = [run for run in (report.open_loop, report.closed_loop) if run is not None and run.lost is not None]
    worst_upper = max((run.lost_upper_bound or 0) for run in runs) if runs else None
    worst_lower = max((run.lost or 0) for run in runs) if runs else None
    if worst_lower:
        return Goal(report.name, "zero events lost", False, f"{worst_lower} acknowledged event(s) not stored")
    if worst_upper:
        detail = f"0 proven lost; up to {worst_upper} unprovable (wrk abandoned in-flight requests)"
        return Goal(report.name, "zero events lost", None, detail)
    return Goal(report.name, "zero events lost", True, "every acknowledged event was stored (both runs)")


def anchor_rate(reports: Sequence[TargetReport], name: str) -> float | None:
    anchor = next((report for report in reports if report.name == name and report.status == "ok"), None)
    return anchor.closed_loop.accepted_per_s if anchor and anchor.closed_loop else None


def floor_detail(rate: float, bare_rate: float, floor_rate: float | None) -> str:
    """Where the floor (the least a stored-before-answered intake does) stands, when it was measured."""
    if not floor_rate:
        return ""
    floor_share, bot_share = floor_rate / bare_rate, rate / floor_rate
    return f" (SQLite floor {floor_rate:.0f}/s = {floor_share:.0%} of bare; the bot {bot_share:.0%} of it)"


def judge(reports: Sequence[TargetReport], options: Options) -> list[Goal]:
    bare_rate, floor_rate = (anchor_rate(reports, name) for name in ANCHORS)
    goals: list[Goal] = []
    for report in reports:
        if report.name in ANCHORS or report.status != "ok":
            continue
        closed, opened = report.closed_loop, report.open_loop
        assert closed is not None and opened is not None
        if bare_rate:
            ratio = closed.accepted_per_s / bare_rate
            goals.append(
                Goal(
                    report.name,
                    f"throughput >= {GOAL_THROUGHPUT_RATIO:.0%} of bare",
                    ratio >= GOAL_THROUGHPUT_RATIO,
                    f"{closed.accepted_per_s:.0f}/s vs {bare_rate:.0f}/s = {ratio:.0%}"
                    + floor_detail(closed.accepted_per_s, bare_rate, floor_rate),
                )
            )
        else:
            goals.append(Goal(report.name, "throughput >= 50% of bare", None, "bare route not measured"))
        clean = opened.socket_errors == 0 and opened.non_2xx == 0
        errors = "" if clean else f", {opened.non_2xx} non-2xx, {opened.socket_errors} socket errors"
        met = opened.p99_ms is not None and opened.p99_ms < GOAL_P99_MS and clean
        goal = f"p99 < {GOAL_P99_MS:.0f} ms at {options.rate:g} requests/s"
        goals += [Goal(report.name, goal, met, f"p99 {fmt(opened.p99_ms)} ms{errors}"), lost_goal(report)]
    return goals


def render(
    reports: Sequence[TargetReport], goals: Sequence[Goal], options: Options, notes: Sequence[str]
) -> str:
    closed_rows, open_rows = [], []
    for report in reports:
        if report.closed_loop is None or report.open_loop is None or report.status != "ok":
            closed_rows.append([report.name, report.status, *["-"] * (len(load.CLOSED_COLUMNS) - 2)])
            open_rows.append([report.name, report.status, *["-"] * (len(load.OPEN_COLUMNS) - 2)])
            continue
        closed_rows.append(load.closed_row(report.name, report.closed_loop))
        open_rows.append(load.open_row(report.name, report.open_loop))
    first = reports[0].closed_loop if reports else None
    out = [
        f"\nClosed loop: concurrency {options.concurrency}, {options.duration} s, "
        f"generator {first.generator if first else options.generator}",
        load.table(load.CLOSED_COLUMNS, closed_rows),
        f"\nOpen loop: {options.rate:g} requests/s for {options.open_loop_duration:g} s "
        "(latency from the scheduled send time)",
        load.table(load.OPEN_COLUMNS, open_rows),
    ]
    out += [
        f"\n{report.name}: {report.status}: {report.reason}" for report in reports if report.status != "ok"
    ]
    out += ["\nGoals", *(goal.line() for goal in goals)]
    if not goals:
        out.append("  (no bot target was measured)")
    out += ["\nNotes", *(f"  - {note}" for note in notes)]
    return "\n".join(out)


def environment_notes(
    wrk: str | None, request: RequestTemplate, event: str, busy_percent: float | None
) -> tuple[list[str], dict[str, Any]]:
    cores = os.cpu_count() or 0
    notes = [
        f"{cores} CPU core(s): the load generator runs on the same machine and shares them with the "
        "server, so absolute numbers are lower than on a dedicated server; compare targets, not machines.",
        "One uvicorn process per server, as `gitops-bot serve` runs (workers and scheduler included).",
        "Servers run with GITOPS_BOT_LOG_LEVEL=WARNING (no per-event INFO line) and GITOPS_BOT_DRY_RUN=true.",
        f"Body: one `{event}` delivery of {len(request.body)} bytes, signed once; every request has "
        "a unique X-GitHub-Delivery, so each is a new event.",
        "lost = acknowledged (2xx) but not stored, checked per delivery id: the open-loop client knows the "
        "ids it had answered, and wrk's script collects the delivery_id the bot names in each 202. Shown as "
        "a range lo..hi only if answers stop naming it (requests wrk abandons at its deadline are unknowns).",
        "srv CPU% = server process CPU time / run time (100% = one core); srv ms/req = server CPU time per "
        "2xx answer; gen CPU% = the generator's; "
        f"all CPU% = busy share of all {cores} cores (100% = saturated), which includes PostgreSQL's.",
    ]
    if busy_percent is not None and busy_percent > BUSY_WARNING_PERCENT:
        notes.append(
            f"WARNING: the machine was {busy_percent:.0f}% busy before the benchmark started (other "
            "processes): every number here is lower and noisier than on an idle machine."
        )
    if not wrk:
        notes.append(
            "wrk was not found: the closed loop used the Python generator (install the `wrk` package)."
        )
    environment = {
        "cpu_count": cores,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wrk": load.wrk_version(wrk) if wrk else None,
        "body_bytes": len(request.body),
        "event": event,
        "git_commit": load.git_commit(),
        "busy_percent_before_start": busy_percent,
        "load_average_before_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    return notes, environment


# -- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="Intake benchmark: signed GitHub webhooks against gitops-bot serve, beside a bare route.",
    )
    add = parser.add_argument
    add("--duration", type=int, default=DEFAULTS["duration"], help="closed-loop seconds per target (20)")
    add("--concurrency", type=int, default=DEFAULTS["concurrency"], help="closed-loop connections (32)")
    add("--rate", type=float, default=DEFAULTS["rate"], help="open-loop requests per second (200)")
    add(
        "--open-duration",
        dest="open_loop_duration",
        metavar="OPEN_DURATION",
        type=float,
        default=DEFAULTS["open_duration"],
        help="open-loop seconds per target (10)",
    )
    add("--warmup", type=float, default=DEFAULTS["warmup"], help="unmeasured warm-up seconds per target (2)")
    add("--targets", default=",".join(ALL_TARGETS), help="comma-separated: bare,floor,sqlite,postgres (all)")
    add("--skip-postgres", action="store_true", help="leave the postgres target out")
    add(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="server URL; a private schema is created in it and dropped afterwards",
    )
    add("--payload", type=Path, help="send this JSON file instead of the built-in payload")
    add("--event", default=FIXTURE["event"], help="X-GitHub-Event for --payload (pull_request)")
    add(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="closed-loop generator: wrk when installed (auto), or always wrk / always Python",
    )
    add(
        "--no-workers",
        action="store_true",
        help="serve --no-workers: the intake alone (in production, workers may run in other processes)",
    )
    add("--output-dir", type=Path, default=BENCH_DIR / "results", help="where the JSON goes")
    args = parser.parse_args(argv)
    targets = tuple(name.strip() for name in args.targets.split(",") if name.strip())
    unknown = [name for name in targets if name not in ALL_TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(ALL_TARGETS)}")
    if args.skip_postgres:
        targets = tuple(name for name in targets if name != "postgres")
    if not targets:
        parser.error("no target left to run")
    if args.duration < 1 or args.concurrency < 1 or args.rate <= 0 or args.open_loop_duration <= 0:
        parser.error("--duration, --concurrency, --rate and --open-duration must be positive")
    if args.payload is not None and not args.payload.is_file():
        parser.error(f"--payload {args.payload}: no such file")
    args.targets = targets
    return Options(**{name.name: getattr(args, name.name) for name in fields(Options)})


def results_document(
    options: Options,
    started_at: datetime,
    environment: dict[str, Any],
    notes: list[str],
    reports: Sequence[TargetReport],
    goals: Sequence[Goal],
) -> dict[str, Any]:
    return {
        "started_at": started_at.isoformat(),
        "options": {
            "duration_s": options.duration,
            "concurrency": options.concurrency,
            "rate": options.rate,
            "open_loop_duration_s": options.open_loop_duration,
            "warmup_s": options.warmup,
            "targets": list(options.targets),
            "payload": str(options.payload) if options.payload else "built-in pull_request opened",
        },
        "environment": environment,
        "notes": notes,
        "targets": [report.as_json() for report in reports],
        "goals": [asdict(goal) for goal in goals],
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    load.interrupt_on_sigterm()
    wrk = shutil.which("wrk") if options.generator != "python" else None
    if options.generator == "wrk" and not wrk:
        raise SystemExit("--generator wrk: wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    secret = secrets.token_hex(32)
    request = signed_request(request_body(options.payload), options.event, secret)
    busy = load.busy_before_start()
    notes, environment = environment_notes(wrk, request, options.event, busy)
    started_at = datetime.now(UTC)
    print(
        f"Intake benchmark: targets {', '.join(options.targets)}; {environment['cpu_count']} core(s) shared "
        f"by the server and the load generator; body {len(request.body)} bytes",
        flush=True,
    )
    if busy is not None and busy > BUSY_WARNING_PERCENT:
        print(f"WARNING: the machine is already {busy:.0f}% busy: results will be noisy", flush=True)
    try:
        reports = run_targets(options, request, secret, wrk)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temporary files removed", file=sys.stderr)
        return 130
    goals = judge(reports, options)
    print(render(reports, goals, options, notes))
    for goal in goals:  # the form `make bench` collects
        verdict = {True: "met", False: "NOT met", None: "UNKNOWN"}[goal.met]
        print(f"goal ({goal.target}: {goal.goal}): {verdict} ({goal.detail})")
    document = results_document(options, started_at, environment, notes, reports, goals)
    print(f"\nJSON: {load.write_results(options.output_dir, 'intake', started_at, document)}")
    return 1 if any(report.status == "failed" for report in reports) else 0


if __name__ == "__main__":
    raise SystemExit(main())
