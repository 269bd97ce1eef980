"""The seed policy through the real Rego engine: GPU pools over the node limit or on an unknown
machine type fail, a large $/hour delta warns; a broken policy fails; the bot's environment is
out of a policy's reach."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bot.config.policies import Policy
from bot.terraform.policies import PolicyFilesError, evaluate, evaluate_all, policy_sources

# The example GitOps repository carries the seed policy, beside the GPU pool it checks.
EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "gitops-repo"
POOL = "module.gpu_pool.terraform_data.node_pool"


def pool_change(max_nodes: int, machine_type: str = "g2-standard-8") -> dict[str, Any]:
    """A ``resource_changes`` entry of ``terraform show -json`` for the example's GPU pool."""

    def pool(nodes: int, machine: str) -> dict[str, Any]:
        return {
            "machine_type": machine,
            "accelerator": {"type": "nvidia-l4", "count": 1},
            "autoscaling": {"min": 1, "max": nodes},
        }

    return {
        "address": POOL,
        "type": "terraform_data",
        "change": {
            "actions": ["update"],
            "before": {"input": pool(4, "g2-standard-8")},
            "after": {"input": pool(max_nodes, machine_type)},
        },
    }


@pytest.mark.parametrize(
    ("change", "failures", "warnings"),
    [
        (pool_change(4), (), ()),
        (
            pool_change(16),
            (f"{POOL}: GPU node pool allows 16 nodes, more than the maximum of 8",),
            (f"{POOL}: at most $10.20/hour more",),
        ),
        (
            pool_change(6, "n1-standard-4"),
            (f"{POOL}: machine type n1-standard-4 is not an allowed GPU machine type",),
            (),
        ),
        (pool_change(8, "a2-highgpu-1g"), (), (f"{POOL}: at most $25.96/hour more",)),
    ],
)
async def test_gpu_limits(
    change: dict[str, Any], failures: tuple[str, ...], warnings: tuple[str, ...]
) -> None:
    gpu_limits = Policy(name="gpu-limits", paths=("policies/",))
    outcomes = await evaluate_all(EXAMPLE, (gpu_limits,), "any", {"resource_changes": [change]})
    assert [(o.failures, o.warnings, o.error) for o in outcomes] == [(failures, warnings, "")]


async def test_policies_check_only_their_projects() -> None:
    only_prod = Policy(name="gpu-limits", paths=("policies/",), projects=("prod",))
    plan = {"resource_changes": [pool_change(16)]}
    assert await evaluate_all(EXAMPLE, (only_prod,), "staging", plan) == ()
    assert (await evaluate_all(EXAMPLE, (only_prod,), "prod", plan))[0].failed


async def test_a_broken_policy_fails_with_the_reason() -> None:
    outcome = await evaluate("broken", {"b.rego": "package main\ndeny contains x if {"}, {})
    assert outcome.failed
    assert "unclosed" in outcome.error


async def test_policies_do_not_see_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_BOT_GITHUB_TOKEN", "do-not-leak")
    leak = "package main\nimport rego.v1\ndeny contains m if { m := json.marshal(opa.runtime().env) }"
    outcome = await evaluate("leak", {"leak.rego": leak}, {})
    assert "do-not-leak" not in " ".join(outcome.failures)
    assert "GITOPS_BOT_GITHUB_TOKEN" in os.environ


@pytest.mark.parametrize("path", ["../outside", "missing/", "policies/nothing.rego"])
def test_policy_paths_stay_in_the_repository(path: str) -> None:
    with pytest.raises(PolicyFilesError):
        # model_construct: past the config check, so the loader's own check is what is tested
        policy_sources(EXAMPLE, Policy.model_construct(name="p", paths=(path,), projects=()))


def test_policy_sources_skip_tests() -> None:
    sources = policy_sources(EXAMPLE, Policy(name="p", paths=("policies/",)))
    assert list(sources) == ["policies/gpu-limits.rego"]
