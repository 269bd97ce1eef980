"""The traffic ladder's rules (pure): config validation, the rungs, writing weights, moving on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config.canary import Canary
from bot.deployments.ladder import (
    Advance,
    Complete,
    LadderPlan,
    Rung,
    WeightLocation,
    after_pass,
    ladder_from_config,
    ladder_rows,
    may_pause,
    may_resume,
    promote_to_last,
    weight_problem,
    write_rung,
    write_weight,
)
from bot.edits import EditError

STEPS = [{"weight": 10, "duration": "10m"}, {"weight": 50, "duration": "10m"}, {"weight": 100}]
TARGET = {"file": "apps/chat/values.yaml", "key": "traffic.latest", "stable": "traffic.previous"}
SHADOW = {
    "weight_target": {"file": "mesh/chat.tfvars", "variable": "mirror"},
    "weight": 20,
    "duration": "30m",
}


def canary(**fields: object) -> Canary:
    return Canary.model_validate({"steps": STEPS, "weight_target": TARGET, **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"steps": [{"weight": 10}, {"weight": 100}]}, "step 1 (weight 10) needs a duration"),
        (
            {"steps": [{"weight": 50, "duration": "1m"}, {"weight": 40, "duration": "1m"}, {"weight": 100}]},
            "step weights must increase: 50, 40, 100",
        ),
        (
            {"steps": [{"weight": 10, "duration": "1m"}, {"weight": 90, "duration": "1m"}]},
            "the last step must send all traffic (weight: 100), not 90",
        ),
        ({"steps": [{"weight": 0, "duration": "1m"}, {"weight": 100}]}, "greater than or equal to 1"),
        (
            {"steps": [{"weight": 10, "duration": "10s"}, {"weight": 100}]},
            "step 1's duration (10s) is shorter than interval",
        ),
        ({"weight_target": None}, "steps need weight_target"),
        ({"duration": "1h"}, "with steps, each step has its own duration"),
        (
            {"weight_target": {"file": "a.yaml", "variable": "x"}},
            "a.yaml is a YAML file: address the weight with key",
        ),
        (
            {"weight_target": {"file": "a.tfvars", "key": "x"}},
            "a.tfvars is a tfvars file: address the weight with variable",
        ),
        (
            {"weight_target": {"file": "a.txt", "key": "x"}},
            "only .yaml, .yml, .tfvars and .tfvars.json files",
        ),
        (
            {"weight_target": {"file": "a.yaml", "key": "x", "stable": "x"}},
            "stable must name another location",
        ),
        (
            {"shadow": {**SHADOW, "weight_target": {"file": "m.yaml", "key": "m", "stable": "n"}}},
            "a mirror percentage has no stable share",
        ),
        ({"shadow": {**SHADOW, "duration": "5s"}}, "shadow.duration (5s) is shorter than interval"),
    ],
)
def test_invalid_steps_say_why(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        canary(**fields)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weight_target": TARGET}, "weight_target needs steps"),
        ({"steps_via": "push"}, "steps_via needs steps"),
        ({"shadow": SHADOW}, "shadow needs steps"),
    ],
)
def test_ladder_settings_without_steps_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Canary.model_validate(fields)
    assert message in str(raised.value)


def test_the_ladder_from_config_with_and_without_the_shadow() -> None:
    ladder = ladder_from_config(canary(shadow=SHADOW, steps_via="push"))
    assert ladder is not None and ladder.via == "push"
    assert ladder.rungs == (Rung(0, 1800, mirror=20), Rung(10, 600), Rung(50, 600), Rung(100, None))
    assert [ladder.label(i) for i in range(4)] == [
        "shadow (20% mirrored)",
        "step 1/3 (10%)",
        "step 2/3 (50%)",
        "step 3/3 (100%)",
    ]
    assert ladder.total_seconds == 3000 and ladder.files() == ("apps/chat/values.yaml", "mesh/chat.tfvars")
    assert LadderPlan.from_json(ladder.to_json()) == ladder
    skipped = ladder_from_config(canary(shadow=SHADOW), shadow_problem="mesh/chat.tfvars: no mirror")
    assert (
        skipped is not None
        and not skipped.has_shadow
        and skipped.shadow_skipped == "mesh/chat.tfvars: no mirror"
    )
    assert skipped.label(0) == "step 1/3 (10%)" and skipped.mirror_target is None
    assert ladder_from_config(Canary()) is None


def test_a_weight_is_written_as_a_number_with_the_stable_share() -> None:
    target = WeightLocation("v.yaml", "traffic.latest", "traffic.previous")
    text = "traffic:\n  latest: 100  # newest\n  previous: 0\n"
    written = write_weight(text, target, 10)
    assert written.text == "traffic:\n  latest: 10  # newest\n  previous: 90\n"
    assert (written.changed, written.old_weight) == (True, "100")
    assert write_weight(written.text, target, 10).changed is False  # a re-run writes nothing
    with pytest.raises(EditError, match=r"v\.yaml"):
        write_weight("traffic: {}\n", target, 10)  # edits never create keys
    assert weight_problem(None, target) == "v.yaml (the canary's weight_target) does not exist"
    assert weight_problem(text, target) is None


def test_each_rung_writes_the_weight_and_the_mirror() -> None:
    ladder = ladder_from_config(canary(shadow=SHADOW))
    assert ladder is not None
    texts = {
        "apps/chat/values.yaml": "traffic: {latest: 100, previous: 0}\n",
        "mesh/chat.tfvars": "mirror = 0\n",
    }
    first = write_rung(texts, ladder, 0)
    assert [(w.file, w.location, w.old_value, w.weight) for w in first] == [
        ("apps/chat/values.yaml", "traffic.latest", "100", 0),
        ("mesh/chat.tfvars", "mirror", "0", 20),
    ]
    assert texts == {
        "apps/chat/values.yaml": "traffic: {latest: 0, previous: 100}\n",
        "mesh/chat.tfvars": "mirror = 20\n",
    }
    write_rung(texts, ladder, 1)
    assert texts == {
        "apps/chat/values.yaml": "traffic: {latest: 10, previous: 90}\n",
        "mesh/chat.tfvars": "mirror = 0\n",
    }


def test_moving_on_the_ladder() -> None:
    ladder = ladder_from_config(canary())
    assert ladder is not None
    assert after_pass(ladder, 0) == Advance(1)
    assert after_pass(ladder, 2) == Complete()
    assert promote_to_last(ladder, 0, "running") == Advance(2, skipped=(1,))
    assert promote_to_last(ladder, 1, "paused") == Advance(2, skipped=())
    assert promote_to_last(ladder, 2, "running") == "the canary is already on its last step, step 3/3 (100%)"
    assert "being made" in str(promote_to_last(ladder, 0, "stepping"))
    assert promote_to_last(ladder, None, "running") == "this canary has no traffic steps"


@pytest.mark.parametrize(
    ("status", "pause", "resume"),
    [
        ("running", None, "the canary is not paused (it is running)"),
        ("waiting_rollout", None, "the canary is not paused (it is waiting_rollout)"),
        ("paused", "the canary is already paused", None),
        (
            "stepping",
            "the next step's commit is being made; pause once it has landed",
            "the canary is not paused (it is stepping)",
        ),
        ("passed", "the canary is not in progress (it is passed)", "the canary is not paused (it is passed)"),
    ],
)
def test_who_may_pause_and_resume(status: str, pause: str | None, resume: str | None) -> None:
    assert may_pause(status) == pause
    assert may_resume(status) == resume


def test_rows_show_every_rung_with_what_is_stored() -> None:
    ladder = ladder_from_config(canary())
    assert ladder is not None
    rows = ladder_rows(ladder, [{"index": 0, "status": "passed", "commit_sha": "abc"}])
    assert [(r["label"], r["status"], r["commit_sha"]) for r in rows] == [
        ("step 1/3 (10%)", "passed", "abc"),
        ("step 2/3 (50%)", "pending", None),
        ("step 3/3 (100%)", "pending", None),
    ]
