"""Keyset pagination for the /api JSON lists: ``?limit=`` and an opaque ``?cursor=``.

Every list is newest first, ordered by a timestamp and then the id. A page that has more
after it names the next page in a ``Link: <…>; rel="next"`` header (the body stays a
plain JSON list); the cursor is the last item's timestamp and id, so inserts while a
client pages never shift or repeat what it sees. Parsing is pure and strict: a bad
``limit`` or a cursor this API did not give out is a 400 with the reason, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Row ids are SQL INTEGER columns: 32-bit on PostgreSQL, so nothing above this can exist.
MAX_ROW_ID = 2**31 - 1


class BadRequest(ValueError):
    """A query parameter that cannot be used; the message is the 400 answer's reason."""


@dataclass(frozen=True)
class Cursor:
    at: datetime
    id: int


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: Cursor | None = None


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_LIMIT)):
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw[:40]!r}")
    limit = int(raw)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit}")
    return limit


def encode_cursor(cursor: Cursor) -> str:
    text = json.dumps([cursor.at.astimezone(UTC).isoformat(), cursor.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> Cursor:
    refused = BadRequest("cursor is not one this API gave out (take it from a Link header)")
    if len(raw) > 200:
        raise refused
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        at_text, item_id = json.loads(text)
        at = datetime.fromisoformat(at_text)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise refused from exc
    if isinstance(item_id, bool) or not isinstance(item_id, int) or not 0 < item_id <= MAX_ROW_ID:
        raise refused
    if at.tzinfo is None:
        raise refused
    return Cursor(at=at.astimezone(UTC), id=item_id)


def parse_page(limit: str | None, cursor: str | None) -> PageRequest:
    return PageRequest(parse_limit(limit), decode_cursor(cursor) if cursor else None)


def parse_id(raw: str) -> int | None:
    """A path id as the database holds it; None (a 404, not a 500) for anything else."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ROW_ID)):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ROW_ID else None


def next_link(path: str, limit: int, cursor: Cursor) -> str:
    """The ``Link`` header value naming the next page (a relative reference, as RFC 8288 allows)."""
    query = urlencode({"limit": limit, "cursor": encode_cursor(cursor)})
    return f'<{path}?{query}>; rel="next"'
