"""The README's metrics list names every metric the bot exports."""

from __future__ import annotations

import re
from pathlib import Path

from bot.metrics import DeploymentGauges, Metrics

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_exported_metric_is_in_the_readme() -> None:
    metrics = Metrics()
    metrics.watch_queue(lambda: {"queued": 0})
    metrics.watch_deployments(DeploymentGauges)
    # The list names them without the prefix, counters with _total, as Prometheus stores them.
    names = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in metrics.registry.collect()
        if family.name.startswith("gitops_bot_")
    }
    section = README.read_text().split("Metrics (all prefixed `gitops_bot_`)")[1].split("\n## ")[0]
    documented = {f"gitops_bot_{name}" for name in re.findall(r"`([a-z_]+)(?:\{[^`]*\})?`", section)}
    assert len(names) >= 12
    assert names - documented == set()
