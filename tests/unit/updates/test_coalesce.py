"""Which pending version replaces an update (bot.updates.coalesce): a table over the rules."""

from __future__ import annotations

import pytest

from bot.config import load_repo_config
from bot.updates.coalesce import PendingVersion, newer_pending_version


def _deployment(tags: str | None = None):
    policy = f", tags: '{tags}'" if tags else ""
    config = load_repo_config(
        "version: 1\ndeployments:\n"
        f"  - name: chat\n    trigger: {{image: {{repository: r.example.com/chat{policy}}}}}\n"
        "    targets: [{file: v.yaml, key: tag}]\n"
    )
    return config.deployments[0]


OURS = 10  # this update's event id


@pytest.mark.parametrize(
    ("pending", "tags", "expected"),
    [
        ([], None, None),  # nothing pending
        ([(11, "1.4.0")], None, "1.4.0"),  # a later event, a newer version
        ([(9, "1.4.0")], None, None),  # an earlier event never replaces a later one
        ([(11, "1.2.0")], None, None),  # a later event for an older version: ours is still wanted
        ([(11, "1.3.0")], None, None),  # the same version again
        ([(11, "1.4.0"), (12, "1.6.0"), (13, "1.5.0")], None, "1.6.0"),  # the newest, not the last
        ([(11, "2.0.0")], "semver:~1", None),  # outside the policy: refused on its own, ours stands
        ([(11, "stable")], "regex:^[a-z0-9]+$", "stable"),  # not comparable: the later event wins
        (
            [(11, "abc123"), (12, "def456")],
            "regex:^[a-z0-9]+$",
            "def456",
        ),  # not comparable: the latest of them
    ],
)
def test_newer_pending_version(
    pending: list[tuple[int, str]], tags: str | None, expected: str | None
) -> None:
    found = newer_pending_version(
        _deployment(tags), "1.3.0", OURS, [PendingVersion(event_id, version) for event_id, version in pending]
    )
    assert (found.version if found else None) == expected
