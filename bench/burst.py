"""Burst benchmark: ten versions of one deployment pushed to two replicas, until the newest's pull request.

    .venv/bin/python bench/burst.py                          # 5 rounds of 10 versions, two replicas
    .venv/bin/python bench/burst.py --rounds 2 --versions 5
    .venv/bin/python bench/burst.py --bot-root /path/to/an/older/checkout   # the same, another bot

Two ``gitops-bot serve`` processes (HTTP, workers and scheduler each, as the Helm chart runs
replicas) share one fresh PostgreSQL schema and a GitHub stand-in backed by a real bare git
repository, which holds one deployment with a Helm values file. Each round pushes the next
``--versions`` versions of that deployment (``1.R.1`` ... ``1.R.10``), one registry webhook after
another, alternating between the replicas, as a CI pipeline that tags several builds at once
does. The clock starts before the first push and stops when the stand-in holds the newest
version's pull request; the round ends when no job is queued or running. For each round the
bench reports that time, the pull requests the round opened, and the updates the bot recorded
as superseded without writing anything.

Goal (issue 19, "bursts coalesce"): a burst opens one pull request, for the newest version,
not one per version opened and superseded in turn. The issue measured over 20 s from such a
burst to the newest pull request, before the change; ``--bot-root`` serves another checkout's
bot (the commit before the change, say) to measure that anchor in the same way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg

from bench import load
from bench.intake import DEFAULT_POSTGRES_URL, migrate, postgres_problem, postgres_schema
from bench.load import ServerProcess
from tests.support.botenv import distribution_push
from tests.support.github_standin import GitHubStandIn

REPO = "acme/gitops"
DEPLOYMENT = "chat-llm"
IMAGE = "serving/chat-llm"
REGISTRY_TOKEN = "burst-registry-token"
GITHUB_TOKEN = "ghp_burst_token"
ROUND_DEADLINE_S = 120.0
# Updates that gave way to a newer pending version and wrote nothing (audited as such).
COALESCED = (
    "SELECT count(*) FROM actions WHERE kind = 'update.propose' AND outcome = 'superseded'"
    " AND details->>'code' = 'superseded_by_pending'"
)
FILES = {
    ".gitops-bot.yaml": (
        "version: 1\n"
        "deployments:\n"
        f"  - name: {DEPLOYMENT}\n"
        f"    trigger: {{image: {{repository: registry.example.com/{IMAGE}}}}}\n"
        "    targets:\n"
        f"      - {{file: apps/{DEPLOYMENT}/values.yaml, key: image.tag}}\n"
    ),
    f"apps/{DEPLOYMENT}/values.yaml": (
        f"image:\n  repository: registry.example.com/{IMAGE}\n  tag: 1.0.0\nreplicas: 2\n"
    ),
}


@dataclass(frozen=True)
class Round:
    number: int
    newest_pr_seconds: float
    settled_seconds: float
    pull_requests_opened: int
    superseded_without_writing: int
    open_after: list[str]


def replica_environment(
    database_url: str, workdir: Path, github: GitHubStandIn, options: argparse.Namespace
) -> dict[str, str]:
    env = load.server_environment(
        {
            "GITOPS_BOT_DATABASE_URL": database_url,
            "GITOPS_BOT_REGISTRY_TOKEN": REGISTRY_TOKEN,
            "GITOPS_BOT_GITHUB_API_URL": github.base_url,
            "GITOPS_BOT_GITHUB_TOKEN": GITHUB_TOKEN,
            # GitHub's advice against its secondary rate limits, as the bot's default keeps it: every
            # pull request opened and closed in a burst costs its writes' pauses.
            "GITOPS_BOT_GITHUB_SECONDS_BETWEEN_WRITES": str(options.seconds_between_writes),
            "GITOPS_BOT_GITOPS_REPOS": REPO,
            "GITOPS_BOT_GIT_URL_TEMPLATE": f"{(workdir / 'github' / 'repos').as_uri()}/{{repo}}.git",
            "GITOPS_BOT_DRY_RUN": "false",
            "GITOPS_BOT_LOG_LEVEL": "WARNING",
        }
    )
    if options.bot_root is not None:  # that checkout's bot, not this one's
        env["PYTHONPATH"] = str(options.bot_root)
    return env


def count(connection: psycopg.Connection, sql: str) -> int:
    row = connection.execute(sql).fetchone()
    return int(row[0]) if row else 0


def run_round(
    number: int, versions: int, replicas: list[ServerProcess], github: GitHubStandIn, db: psycopg.Connection
) -> Round:
    prefix = f"gitops-bot/{DEPLOYMENT}/1.{number}."
    newest = f"{prefix}{versions}"
    superseded_before = count(db, COALESCED)
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for index in range(1, versions + 1):
            replica = replicas[index % len(replicas)]
            answer = client.post(
                f"{replica.base_url}/webhooks/registry",
                json=distribution_push(IMAGE, f"1.{number}.{index}", f"sha256:{number * 1000 + index:064x}"),
                headers={"Authorization": f"Bearer {REGISTRY_TOKEN}"},
            )
            if answer.status_code != 202:
                raise SystemExit(f"round {number}, push {index}: {answer.status_code} {answer.text}")
    newest_at = settled_at = None
    while time.monotonic() - started < ROUND_DEADLINE_S:
        if newest_at is None and any(pull.head_ref == newest for pull in github.pulls(REPO)):
            newest_at = time.monotonic()
        busy = count(db, "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
        if newest_at is not None and busy == 0:
            settled_at = time.monotonic()
            break
        time.sleep(0.02)
    if newest_at is None or settled_at is None:
        logs = "\n".join(f"--- {replica.name}\n{replica.log_tail(15)}" for replica in replicas)
        raise SystemExit(
            f"round {number}: not settled within {ROUND_DEADLINE_S:.0f} s (newest pull request "
            f"{'open' if newest_at else 'missing'}); the replicas' logs end:\n{logs}"
        )
    pulls = [pull for pull in github.pulls(REPO) if pull.head_ref.startswith(prefix)]
    superseded = count(db, COALESCED)
    return Round(
        number=number,
        newest_pr_seconds=newest_at - started,
        settled_seconds=settled_at - started,
        pull_requests_opened=len(pulls),
        superseded_without_writing=superseded - superseded_before,
        open_after=sorted(pull.head_ref for pull in github.pulls(REPO) if pull.state == "open"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5, help="bursts, one after another (5)")
    parser.add_argument("--versions", type=int, default=10, help="versions pushed in each burst (10)")
    parser.add_argument("--replicas", type=int, default=2, help="serve processes on the one database (2)")
    parser.add_argument(
        "--seconds-between-writes",
        type=float,
        default=1.0,
        help="the bot's pause between GitHub write calls (1, its default; 0 shows the work alone)",
    )
    parser.add_argument("--bot-root", type=Path, help="serve the bot of this checkout instead")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--output-dir", type=Path, default=load.REPO_ROOT / "bench" / "results")
    options = parser.parse_args()
    problem = postgres_problem(options.postgres_url)
    if problem is not None:
        raise SystemExit(f"burst benchmark needs PostgreSQL: {problem}")
    load.interrupt_on_sigterm()
    started_at = datetime.now(UTC)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="gitops-bot-burst-") as scratch:
        workdir = Path(scratch)
        with (
            postgres_schema(options.postgres_url) as (url, conninfo, schema),
            GitHubStandIn(workdir / "github") as github,
        ):
            github.add_token(GITHUB_TOKEN, login="gitops-bot")
            github.create_repo(REPO, dict(FILES))
            env = replica_environment(url, workdir, github, options)
            migrate(env, workdir, options.bot_root)
            replicas = [
                ServerProcess(
                    f"replica-{index}", load.bot_command("serve", bot_root=options.bot_root), env, workdir
                )
                for index in range(options.replicas)
            ]
            # One connection reads the queue for the whole run (a poll every 20 ms).
            db = psycopg.connect(conninfo, autocommit=True, options=f"-csearch_path={schema}")
            try:
                for replica in replicas:
                    replica.wait_ready()
                for number in range(1, options.rounds + 1):
                    result = run_round(number, options.versions, replicas, github, db)
                    rounds.append(result)
                    print(
                        f"round {number}: newest pull request after {result.newest_pr_seconds:.2f} s, "
                        f"settled after {result.settled_seconds:.2f} s; {result.pull_requests_opened} "
                        f"pull request(s) opened, {result.superseded_without_writing} superseded without "
                        f"writing; open after: {', '.join(result.open_after)}",
                        flush=True,
                    )
            finally:
                db.close()
                for replica in replicas:
                    replica.stop()
    newest = [r.newest_pr_seconds for r in rounds]
    opened = [r.pull_requests_opened for r in rounds]
    goal = all(
        r.pull_requests_opened == 1
        and r.open_after == [f"gitops-bot/{DEPLOYMENT}/1.{r.number}.{options.versions}"]
        for r in rounds
    )
    print(
        f"\n{options.rounds} bursts of {options.versions} versions over {options.replicas} replicas: "
        f"newest pull request after median {statistics.median(newest):.2f} s "
        f"(max {max(newest):.2f} s); pull requests opened per burst: {', '.join(map(str, opened))}"
    )
    print(
        f"goal (a burst opens one pull request, for the newest version): {'met' if goal else 'NOT met'} "
        f"({len(rounds)} bursts of {options.versions} versions over {options.replicas} replicas; "
        f"pull requests per burst {', '.join(map(str, opened))}; "
        f"newest after median {statistics.median(newest):.2f} s)"
    )
    document = {
        "rounds": [asdict(r) for r in rounds],
        "versions": options.versions,
        "replicas": options.replicas,
        "bot_root": str(options.bot_root) if options.bot_root else None,
        "goal_met": goal,
    }
    path = load.write_results(options.output_dir, "burst", started_at, document)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
