"""A hostile ``.gitops-bot.yaml`` on the default branch: reported with its line, the job succeeds.

Before the limits, a config nested 3,000 levels deep made the loader raise ``RecursionError``
inside the handler, and the job was retried until ``dead`` with "maximum recursion depth
exceeded"; nobody was told which line of which file was at fault.
"""

from __future__ import annotations

import pytest

from tests.integration.updates.conftest import DIGEST, REPO
from tests.support.botenv import BotEnv, distribution_push


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\ndeployments: " + "[" * 3_000 + "]" * 3_000 + "\n",
            ".gitops-bot.yaml:2:",
        ),
        ("version: 1\ndeployments:\n  " + "- " * 3_000 + "x\n", ".gitops-bot.yaml:3:"),
        ("version: 1\n" + "# padding\n" * 400_000, "may be at most 256 KiB"),
    ],
    ids=["deep-flow", "deep-block", "several-mib"],
)
def test_a_hostile_config_is_reported_and_no_job_fails(env: BotEnv, text: str, expected: str) -> None:
    env.standin.commit(REPO, "main", {".gitops-bot.yaml": text}, "hostile config")
    env.services.repo_configs.invalidate(REPO)

    assert env.post_registry(distribution_push("serving/chat-llm", "1.3.0", DIGEST)) == 202
    ran = env.run_jobs()  # fails the test if any job failed (and would be retried to dead)

    assert ran and all(outcome == "done" for _, outcome in ran)
    assert env.standin.pulls(REPO) == []
    (report,) = env.actions("config.unusable")
    assert expected in report["summary"]
    assert "recursion" not in report["summary"]
