"""The documented routers (deploy/examples/traffic): the canary config in each file's header is
valid, and every step of it, shadow included, is written into the file by the bot's own editors."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.config.canary import Canary
from bot.deployments.ladder import ladder_from_config, write_rung

EXAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "traffic"
FILES = sorted(path.name for path in EXAMPLES.glob("*.yaml"))


def header_canary(path: Path) -> Canary:
    lines = [line[4:] for line in path.read_text().splitlines() if line.startswith("#   ")]
    return Canary.model_validate(YAML(typ="safe").load("\n".join(lines))["canary"])


def test_every_router_is_documented() -> None:
    assert FILES == ["httproute.yaml", "kserve-values.yaml", "rollout-values.yaml", "virtualservice.yaml"]
    readme = (EXAMPLES / "README.md").read_text()
    assert all(f"[`{name}`]({name})" in readme for name in FILES)


@pytest.mark.parametrize("name", FILES)
def test_each_step_is_written_into_the_example(name: str) -> None:
    canary = header_canary(EXAMPLES / name)
    ladder = ladder_from_config(canary)
    assert ladder is not None
    text = (EXAMPLES / name).read_text()
    texts = {path: text for path in ladder.files()}  # every location of an example is in its one file
    loaded = YAML(typ="safe").load(text)
    for index, rung in enumerate(ladder.rungs):
        write_rung(texts, ladder, index)
        after = YAML(typ="safe").load(texts[ladder.target.file])
        assert after != loaded or index == len(ladder.rungs) - 1
        assert str(rung.weight) in texts[ladder.target.file]
    # The last step leaves the file as it was between canaries: all traffic to the new version.
    assert YAML(typ="safe").load(texts[ladder.target.file]) == loaded
