"""Update benchmark: from a registry event accepted to its pull request opened on the stand-in.

    .venv/bin/python bench/update.py                    # 200 events over 20 deployments, SQLite
    .venv/bin/python bench/update.py --events 40 --deployments 4

The whole bot runs in this process as `gitops-bot serve` runs it (intake, the durable queue on a
fresh SQLite file, workers): a GitHub stand-in backed by a real bare git repository holds a
GitOps repository with ``--deployments`` deployments, each with its own Helm values file.
Events are sent one at a time (this measures latency, not throughput): each is a push of the
next version for the next deployment, so most of them also supersede an open pull request.
The clock starts when the registry webhook is answered 202 and stops when the stand-in has the
pull request for that version (polled every 10 ms).

Goals: p50 under 300 ms, p99 under 600 ms (200 events over 20 deployments).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from bench.common import (  # noqa: E402
    bot_settings,
    migrated_database,
    percentile,
    post_registry,
    serving,
    standin,
    wait_until,
)
from bot.logging import configure_logging  # noqa: E402
from tests.support.botenv import REGISTRY_TOKEN, distribution_push  # noqa: E402
from tests.support.github_standin import GitHubStandIn  # noqa: E402

REPO = "acme/gitops"


def repository_files(deployments: int) -> dict[str, str]:
    config = ["version: 1", "deployments:"]
    files: dict[str, str] = {}
    for index in range(deployments):
        name = f"model-{index:02d}"
        config += [
            f"  - name: {name}",
            f"    trigger: {{image: {{repository: registry.example.com/serving/{name}}}}}",
            "    targets:",
            f"      - {{file: apps/{name}/values.yaml, key: image.tag}}",
            f"      - {{file: apps/{name}/values.yaml, key: image.digest, format: digest}}",
        ]
        files[f"apps/{name}/values.yaml"] = (
            f"# {name}\nimage:\n  repository: registry.example.com/serving/{name}\n"
            f"  tag: 1.0.0\n  digest: sha256:{'0' * 64}\nreplicas: 2\n"
        )
    files[".gitops-bot.yaml"] = "\n".join(config) + "\n"
    return files


def time_one_update(client: TestClient, github: GitHubStandIn, number: int, deployments: int) -> float:
    """Send the ``number``th registry push; seconds from its 202 to its pull request on the stand-in."""
    deployment = f"model-{number % deployments:02d}"
    version = f"1.{number // deployments + 1}.0"
    answer = post_registry(
        client, distribution_push(f"serving/{deployment}", version, f"sha256:{number:064x}")
    )
    accepted = time.perf_counter()
    if answer.status_code != 202:
        raise SystemExit(f"event {number}: {answer.status_code} {answer.text}")
    branch = f"gitops-bot/{deployment}/{version}"
    if not wait_until(lambda: any(pull.head_ref == branch for pull in github.pulls(REPO)), 30):
        raise SystemExit(f"no pull request for {branch} within 30 s")
    return time.perf_counter() - accepted


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    configure_logging("WARNING", json=False)

    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-update-") as tmp:
        root = Path(tmp)
        database_url = migrated_database(root)
        with standin(root, REPO, repository_files(args.deployments)) as github:
            settings = bot_settings(
                root, github, database_url, registry_token=REGISTRY_TOKEN, gitops_repos=[REPO], workers=4
            )
            with serving(settings, github) as client:
                latencies: list[float] = []
                for number in range(args.warmup + args.events):
                    latency = time_one_update(client, github, number, args.deployments)
                    if number >= args.warmup:
                        latencies.append(latency)
            opened = len(github.pulls(REPO))

    ms = [value * 1000 for value in latencies]
    print(f"{len(ms)} events over {args.deployments} deployments ({args.warmup} warm-up events not counted)")
    print(f"pull requests on the stand-in: {opened}")
    print(
        f"event accepted -> PR opened: p50 {statistics.median(ms):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms, "
        f"p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
    )
    p50, p99 = statistics.median(ms), percentile(ms, 0.99)
    print(f"goal (p50 under 300 ms): {'met' if p50 < 300 else 'NOT met'} ({p50:.0f} ms)")
    print(f"goal (p99 under 600 ms): {'met' if p99 < 600 else 'NOT met'} ({p99:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
