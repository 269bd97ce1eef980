"""Policy checks of a plan: the Rego files a ``policies:`` entry names, evaluated against the
plan's ``terraform show -json`` with an embedded Rego engine (``regopy``, rego-cpp's bindings).

The engine runs in a child process with an empty environment: Rego's ``opa.runtime()`` returns the
process environment, and a policy's messages end up in a public comment, so the bot's credentials
must not be in reach. The child also bounds a runaway policy with a timeout and keeps a crash of
the native engine out of the worker. What the outcome means is :mod:`bot.terraform.policy_results`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.config.policies import Policy
from bot.terraform.policy_results import PolicyOutcome, outcome_of

EVALUATION_TIMEOUT_SECONDS = 30.0
MAX_POLICY_BYTES = 1_000_000  # all of one policy's files together


class PolicyFilesError(ValueError):
    """A policy's ``paths`` name nothing usable (missing, outside the repository, too large)."""


def policy_sources(root: Path, policy: Policy) -> dict[str, str]:
    """The ``.rego`` files under ``policy.paths`` in the checkout at ``root`` (tests excluded),
    keyed by their path in the repository."""
    base = root.resolve()
    sources: dict[str, str] = {}
    for relative in policy.paths:
        target = (base / relative).resolve()
        if not target.is_relative_to(base) or not target.exists():
            raise PolicyFilesError(f"policy path {relative!r} is not in the repository")
        files = sorted(target.rglob("*.rego")) if target.is_dir() else [target]
        for file in files:
            if file.name.endswith("_test.rego") or not file.resolve().is_relative_to(base):
                continue
            sources[file.relative_to(base).as_posix()] = file.read_text(encoding="utf-8")
    if not sources:
        raise PolicyFilesError("no .rego files under " + ", ".join(policy.paths))
    if sum(len(text) for text in sources.values()) > MAX_POLICY_BYTES:
        raise PolicyFilesError(f"the policy files exceed {MAX_POLICY_BYTES} bytes")
    return sources


async def evaluate(
    name: str,
    sources: Mapping[str, str],
    plan_json: Mapping[str, Any],
    *,
    timeout: float = EVALUATION_TIMEOUT_SECONDS,
) -> PolicyOutcome:
    """``data.main`` of the policy's modules over the plan, in a child process."""
    request = json.dumps({"modules": dict(sources), "input": plan_json}).encode()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-c",
        _CHILD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={},
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(request), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return PolicyOutcome(name, error=f"evaluation took longer than {timeout:g}s")
    return _outcome(name, process.returncode, stdout, stderr)


async def evaluate_all(
    root: Path, policies: Sequence[Policy], project: str, plan_json: Mapping[str, Any]
) -> tuple[PolicyOutcome, ...]:
    """Every policy that checks ``project``, in configuration order."""
    outcomes = []
    for policy in policies:
        if not policy.applies_to(project):
            continue
        try:
            sources = policy_sources(root, policy)
        except (PolicyFilesError, OSError, UnicodeDecodeError) as error:
            outcomes.append(PolicyOutcome(policy.name, error=str(error)))
            continue
        outcomes.append(await evaluate(policy.name, sources, plan_json))
    return tuple(outcomes)


def _outcome(name: str, returncode: int | None, stdout: bytes, stderr: bytes) -> PolicyOutcome:
    lines = stdout.decode(errors="replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (ValueError, IndexError):
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {returncode}"]
        return PolicyOutcome(name, error=tail[0][:300])
    if "error" in answer:
        return PolicyOutcome(name, error=str(answer["error"])[:1000])
    document = answer.get("document")
    return outcome_of(name, document if isinstance(document, Mapping) else {})


# The child: isolated mode (-I) ignores PYTHON* variables and the user site; it reads the request on
# stdin and prints {"document": ...} or {"error": ...}. regopy is imported only here.
_CHILD = r"""
import json, re, sys
def report(answer):
    # The native engine prints its own diagnostics to stdout: the answer is the last line.
    sys.stdout.write("\n" + json.dumps(answer) + "\n")
def reasons(text):
    found = re.findall(r"errormsg \d+:([^)]*)\)", text)
    return "; ".join(dict.fromkeys(found)) or " ".join(text.split())
try:
    import regopy
    request = json.load(sys.stdin)
    rego = regopy.Interpreter()
    for path, text in sorted(request["modules"].items()):
        rego.add_module(path, text)
    rego.set_input(request["input"])
    output = rego.query("data.main")
    if not output.ok():
        report({"error": reasons(str(output))})
    else:
        found = json.loads(str(output)) if str(output) != "undefined" else {}
        values = found.get("expressions") or [{}]
        report({"document": values[0]})
except Exception as error:
    report({"error": reasons(str(error))})
"""
