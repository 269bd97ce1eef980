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

Goal: p50 under 300 ms.
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

from bot.app import create_app  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.storage.db import migrate  # noqa: E402
from tests.support.botenv import REGISTRY_TOKEN, TOKEN, WEBHOOK_SECRET, distribution_push  # noqa: E402
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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


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
        database_url = f"sqlite:///{root / 'bot.db'}"
        migrate(database_url)
        with GitHubStandIn(root / "github") as standin:
            standin.add_token(TOKEN, login="gitops-bot")
            standin.create_repo(REPO, repository_files(args.deployments))
            settings = Settings(
                _env_file=None,
                database_url=database_url,
                github_api_url=standin.base_url,
                github_token=TOKEN,
                github_webhook_secret=WEBHOOK_SECRET,
                github_seconds_between_writes=0.0,
                registry_token=REGISTRY_TOKEN,
                git_url_template=f"{(root / 'github' / 'repos').as_uri()}/{{repo}}.git",
                data_dir=root / "data",
                gitops_repos=[REPO],
                workers=4,
            )
            with TestClient(create_app(settings, run_workers=True)) as client:
                standin.set_webhook("/webhooks/github", WEBHOOK_SECRET, client=client)
                latencies: list[float] = []
                total = args.warmup + args.events
                for number in range(total):
                    deployment = f"model-{number % args.deployments:02d}"
                    version = f"1.{number // args.deployments + 1}.0"
                    digest = f"sha256:{number:064x}"
                    body = distribution_push(f"serving/{deployment}", version, digest)
                    branch = f"gitops-bot/{deployment}/{version}"
                    answer = client.post(
                        "/webhooks/registry",
                        json=body,
                        headers={"Authorization": f"Bearer {REGISTRY_TOKEN}"},
                    )
                    accepted = time.perf_counter()
                    if answer.status_code != 202:
                        raise SystemExit(f"event {number}: {answer.status_code} {answer.text}")
                    deadline = accepted + 30
                    while not any(pull.head_ref == branch for pull in standin.pulls(REPO)):
                        if time.perf_counter() > deadline:
                            raise SystemExit(f"no pull request for {branch} within 30 s")
                        time.sleep(0.01)
                    if number >= args.warmup:
                        latencies.append(time.perf_counter() - accepted)
                standin.set_webhook(None)
            opened = len(standin.pulls(REPO))

    ms = [value * 1000 for value in latencies]
    print(f"{len(ms)} events over {args.deployments} deployments ({args.warmup} warm-up events not counted)")
    print(f"pull requests on the stand-in: {opened}")
    print(
        f"event accepted -> PR opened: p50 {statistics.median(ms):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms, "
        f"p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
    )
    print(f"goal (p50 under 300 ms): {'met' if statistics.median(ms) < 300 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
