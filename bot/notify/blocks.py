"""Block Kit builders: plain dicts in Slack's JSON shape, pure and limit-aware.

Slack refuses a message whose blocks break a limit (``invalid_blocks``), which would lose
the notification; so the builders clip text to each field's documented maximum instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Block = dict[str, Any]

SECTION_TEXT_MAX = 3000
CONTEXT_TEXT_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
BLOCK_ID_MAX = 255
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
ACTIONS_ELEMENTS_MAX = 25


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Escape user-controlled text for mrkdwn: Slack reads ``<…>`` as links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """A mrkdwn link; just the (escaped) label when there is no URL."""
    if not url:
        return escape(label)
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{escape(label).replace('|', '¦')}>"


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text or " ")}
    if block_id:
        block["block_id"] = clip(block_id, BLOCK_ID_MAX)
    return block


def sections(text: str) -> list[Block]:
    """Long text as several sections, cut at line ends where possible."""
    blocks: list[Block] = []
    rest = text.strip("\n")
    while rest:
        if len(rest) <= SECTION_TEXT_MAX:
            chunk, rest = rest, ""
        else:
            cut = rest.rfind("\n", 0, SECTION_TEXT_MAX)
            cut = cut if cut > SECTION_TEXT_MAX // 2 else SECTION_TEXT_MAX
            chunk, rest = rest[:cut], rest[cut:].lstrip("\n")
        blocks.append(section(chunk))
    return blocks or [section(" ")]


def context(*texts: str) -> Block:
    elements = [mrkdwn(text, CONTEXT_TEXT_MAX) for text in texts if text][:CONTEXT_ELEMENTS_MAX]
    return {"type": "context", "elements": elements or [mrkdwn(" ")]}


def divider() -> Block:
    return {"type": "divider"}


def confirm_dialog(*, title: str, text: str, confirm: str, deny: str, danger: bool = False) -> dict[str, Any]:
    dialog: dict[str, Any] = {
        "title": plain(title, CONFIRM_TITLE_MAX),
        "text": mrkdwn(text, CONFIRM_TEXT_MAX),
        "confirm": plain(confirm, CONFIRM_BUTTON_MAX),
        "deny": plain(deny, CONFIRM_BUTTON_MAX),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def button(
    text: str,
    *,
    action_id: str,
    value: str,
    style: Literal["primary", "danger"] | None = None,
    confirm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    if len(value) > BUTTON_VALUE_MAX:
        # Clipping a value would corrupt it; this is a programming error, not user input.
        raise ValueError(f"a button value may have at most {BUTTON_VALUE_MAX} characters")
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_MAX),
        "action_id": clip(action_id, ACTION_ID_MAX),
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = dict(confirm)
    return element


def actions(elements: Sequence[Mapping[str, Any]], *, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": [dict(e) for e in elements][:ACTIONS_ELEMENTS_MAX]}
    if block_id:
        block["block_id"] = clip(block_id, BLOCK_ID_MAX)
    return block


def encode_value(data: Mapping[str, Any]) -> str:
    """A button's value: compact JSON, so the click carries what it is about."""
    return json.dumps(dict(data), separators=(",", ":"), sort_keys=True)


def decode_value(value: str | None) -> dict[str, Any]:
    """The inverse of :func:`encode_value`; ``ValueError`` for anything else."""
    if not value:
        raise ValueError("the button carries no value")
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the button value is not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("the button value is not a JSON object")
    return data
