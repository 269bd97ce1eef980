"""Slack texts from ``templates/slack/``: the thread's top message and one reply per notification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from bot.notify import CanaryFinished, CanaryInterval, Notification
from bot.notify import blocks as bk
from bot.notify.story import StoryState

ROLLBACK_ACTION = "gitops_rollback"
PROMOTE_ACTION = "gitops_promote"
PAUSE_ACTION = "gitops_pause"
RESUME_ACTION = "gitops_resume"
# Stages in which a person may still decide: roll back, or promote the canary's version.
ROLLBACK_STAGES = frozenset({"canary", "passed", "inconclusive", "failed", "rollback_failed"})
PROMOTE_STAGES = frozenset({"canary", "passed", "inconclusive"})


def duration(seconds: int | None) -> str:
    if not seconds:
        return "0 s"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _globals() -> dict[str, Any]:
    return {"esc": lambda value: bk.escape(str(value or "")), "link": bk.link, "duration": duration}


def _render(templates: jinja2.Environment, name: str, **context: Any) -> str:
    text = templates.get_template(name).render(**_globals(), **context)
    return "\n".join(line.rstrip() for line in text.strip().splitlines()).strip()


def evidence_lines(evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-metric lines from an interval's evidence, whatever optional fields it carries."""
    raw = evidence.get("measurements") or evidence.get("metrics") or evidence.get("results") or []
    if isinstance(raw, Mapping):
        raw = [
            {"metric": name, **(value if isinstance(value, Mapping) else {"value": value})}
            for name, value in raw.items()
        ]
    lines = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            continue
        value = item.get("value")
        baseline = item.get("baseline_value", item.get("baseline"))
        lines.append(
            {
                "metric": str(item.get("metric") or item.get("name") or "metric"),
                "status": str(item.get("status") or item.get("verdict") or ""),
                "value_text": _number(value),
                "threshold": str(item["threshold"]) if item.get("threshold") is not None else None,
                "baseline_text": _number(baseline) if baseline is not None else None,
                "samples_text": _samples(item),
                "reason": str(item.get("reason") or "") or None,
            }
        )
    return lines


def _samples(item: Mapping[str, Any]) -> str | None:
    count = item.get("sample_count", item.get("samples"))
    return None if count is None else str(count)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "no data" if value is None else str(value)


def render_note(templates: jinja2.Environment, note: Notification) -> str:
    context: dict[str, Any] = {"note": note}
    if isinstance(note, CanaryInterval):
        context["evidence"] = evidence_lines(note.evidence)
        count = note.evidence.get("request_count")
        context["request_count"] = count if isinstance(count, int | float) else None
        context["reason"] = (
            note.evidence.get("reason") if isinstance(note.evidence.get("reason"), str) else None
        )
    elif isinstance(note, CanaryFinished):
        last = note.evidence.get("last_interval")
        context["evidence"] = evidence_lines(last) if isinstance(last, Mapping) else []
    return _render(templates, f"slack/notes/{note.kind}.md.j2", **context)


def render_top(templates: jinja2.Environment, state: StoryState) -> tuple[str, list[bk.Block]]:
    """The top message's fallback text and blocks (with the decision buttons while they apply)."""
    text = _render(templates, "slack/top.md.j2", state=state)
    blocks = bk.sections(text)
    buttons = decision_buttons(templates, state)
    if buttons:
        blocks.append(bk.actions(buttons, block_id=f"decide:{state.revision}"))
    return text, blocks


def decision_buttons(templates: jinja2.Environment, state: StoryState) -> list[dict[str, Any]]:
    if state.stage == "terraform" or state.deployment is None or state.version is None or state.dry_run:
        return []
    labels = templates.get_template("slack/labels.j2").module
    value = bk.encode_value(
        {"repo": state.repo, "deployment": state.deployment, "version": state.version, "key": state.key}
    )
    buttons = []
    if state.stage in ROLLBACK_STAGES:
        buttons.append(
            bk.button(
                labels.rollback_label,  # type: ignore[attr-defined]
                action_id=ROLLBACK_ACTION,
                value=value,
                style="danger",
                confirm=bk.confirm_dialog(
                    title=labels.rollback_confirm_title,  # type: ignore[attr-defined]
                    text=labels.rollback_confirm_text,  # type: ignore[attr-defined]
                    confirm=labels.rollback_confirm_yes,  # type: ignore[attr-defined]
                    deny=labels.confirm_no,  # type: ignore[attr-defined]
                    danger=True,
                ),
            )
        )
    climbing = state.stage == "canary" and state.step_label is not None
    if climbing:
        buttons.append(_ladder_button(labels, state, value))
    if state.stage in PROMOTE_STAGES:
        skip = climbing and not state.step_last
        buttons.append(
            bk.button(
                labels.skip_steps_label if skip else labels.promote_label,  # type: ignore[attr-defined]
                action_id=PROMOTE_ACTION,
                value=value,
                style="primary",
                confirm=bk.confirm_dialog(
                    title=labels.promote_confirm_title,  # type: ignore[attr-defined]
                    text=labels.skip_steps_confirm_text if skip else labels.promote_confirm_text,  # type: ignore[attr-defined]
                    confirm=labels.promote_confirm_yes,  # type: ignore[attr-defined]
                    deny=labels.confirm_no,  # type: ignore[attr-defined]
                ),
            )
        )
    return buttons


def _ladder_button(labels: Any, state: StoryState, value: str) -> dict[str, Any]:
    """Pause a climbing canary where it is, or resume a paused one."""
    if state.step_paused:
        return bk.button(labels.resume_label, action_id=RESUME_ACTION, value=value)
    return bk.button(labels.pause_label, action_id=PAUSE_ACTION, value=value)
