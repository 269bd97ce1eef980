"""What a merged pull request deployed: the deployments whose targets changed, and their versions."""

from __future__ import annotations

import pytest

from bot.config import load_repo_config
from bot.deployments.merged import deployments_touched, split_written_value

CONFIG = load_repo_config(
    """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets:
      - {file: apps/chat/values.yaml, key: image.tag}
      - {file: apps/chat/values.yaml, key: image.digest, format: digest}
  - name: chat-prod
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: apps/chat/values-prod.yaml, key: image.tag}]
  - name: embed
    trigger: {image: {repository: registry.example.com/serving/embed}}
    targets: [{file: infra/embed.tfvars, variable: embed_image, format: image}]
"""
)
DIGEST = "sha256:" + "a" * 64


def files(**texts: str | None):  # type: ignore[no-untyped-def]
    return lambda path: texts.get(path)


# --------------------------------------------------------------------------- deployments_touched


CHAT_BEFORE = f"image:\n  tag: 1.0.0\n  digest: {'sha256:' + 'b' * 64}\n"
CHAT_AFTER = f"image:\n  tag: 1.1.0\n  digest: {DIGEST}\n"


@pytest.mark.parametrize(
    ("changed", "before", "after", "expected"),
    [
        # A version change in a target file: one deployment, with its previous version and digest.
        (
            ["apps/chat/values.yaml"],
            {"apps/chat/values.yaml": CHAT_BEFORE},
            {"apps/chat/values.yaml": CHAT_AFTER},
            [("chat", "1.1.0", "1.0.0", DIGEST)],
        ),
        # The file changed but not the version (a comment, resources): nothing deployed.
        (
            ["apps/chat/values.yaml"],
            {"apps/chat/values.yaml": CHAT_BEFORE},
            {"apps/chat/values.yaml": CHAT_BEFORE + "resources: {}\n"},
            [],
        ),
        # A new file: deployed, with no previous version.
        (
            ["apps/chat/values.yaml"],
            {},
            {"apps/chat/values.yaml": CHAT_AFTER},
            [("chat", "1.1.0", None, DIGEST)],
        ),
        # Files outside every target: nothing.
        (["README.md"], {}, {"README.md": "x"}, []),
        # A deleted target file: nothing to analyse.
        (["apps/chat/values.yaml"], {"apps/chat/values.yaml": CHAT_BEFORE}, {}, []),
        # Two deployments in one pull request.
        (
            ["apps/chat/values-prod.yaml", "infra/embed.tfvars"],
            {
                "apps/chat/values-prod.yaml": "image:\n  tag: 0.9.0\n",
                "infra/embed.tfvars": 'embed_image = "r/e:2"\n',
            },
            {
                "apps/chat/values-prod.yaml": "image:\n  tag: 1.0.0\n",
                "infra/embed.tfvars": f'embed_image = "registry.example.com/serving/embed:3@{DIGEST}"\n',
            },
            [("chat-prod", "1.0.0", "0.9.0", None), ("embed", "3", "2", DIGEST)],
        ),
    ],
)
def test_deployments_touched(changed, before, after, expected) -> None:  # type: ignore[no-untyped-def]
    touched = deployments_touched(CONFIG, changed, files(**after), files(**before))
    assert [(t.name, t.version, t.previous_version, t.digest) for t in touched] == expected


def test_a_digest_only_change_is_a_deployment() -> None:
    before = f"image:\n  tag: 1.0.0\n  digest: {'sha256:' + 'b' * 64}\n"
    after = f"image:\n  tag: 1.0.0\n  digest: {DIGEST}\n"
    (touched,) = deployments_touched(
        CONFIG,
        ["apps/chat/values.yaml"],
        files(**{"apps/chat/values.yaml": after}),
        files(**{"apps/chat/values.yaml": before}),
    )
    assert (touched.version, touched.digest, touched.files) == ("1.0.0", DIGEST, ("apps/chat/values.yaml",))


@pytest.mark.parametrize(
    ("target_format", "value", "expected"),
    [
        ("tag", "1.2.3", ("1.2.3", None)),
        ("digest", DIGEST, (DIGEST, DIGEST)),
        ("tag@digest", f"1.2.3@{DIGEST}", ("1.2.3", DIGEST)),
        ("image", "registry.example.com:5000/serving/chat:1.2.3", ("1.2.3", None)),
        ("image@digest", f"registry.example.com/serving/chat:1.2.3@{DIGEST}", ("1.2.3", DIGEST)),
        ("image@digest", f"registry.example.com/serving/chat@{DIGEST}", (DIGEST, DIGEST)),
    ],
)
def test_split_written_value(target_format: str, value: str, expected: tuple[str, str | None]) -> None:
    assert split_written_value(target_format, value) == expected
