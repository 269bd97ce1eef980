from __future__ import annotations

import pytest

from bot.config import load_repo_config
from bot.config.loader import ConfigInvalid

BASE = "version: 1\nprojects:\n  - name: staging\n    dir: terraform/staging\n"


@pytest.mark.parametrize(
    ("drift", "schedule"),
    [
        ('drift: {schedule: "0 */6 * * *"}', "0 */6 * * *"),
        ('drift: {schedule: "@daily"}', "@daily"),
        ("", None),
    ],
)
def test_drift_schedule(drift: str, schedule: str | None) -> None:
    (project,) = load_repo_config(BASE + (f"    {drift}\n" if drift else "")).projects
    assert (project.drift.schedule if project.drift is not None else None) == schedule


@pytest.mark.parametrize(
    "drift",
    [
        'drift: {schedule: "0 0 */6 * * *"}',  # six fields: seconds are not a drift schedule
        'drift: {schedule: "every six hours"}',
        "drift: {}",
        'drift: {schedule: "0 * * * *", notify: slack}',
    ],
)
def test_bad_drift_config_is_refused(drift: str) -> None:
    with pytest.raises(ConfigInvalid):
        load_repo_config(BASE + f"    {drift}\n")
