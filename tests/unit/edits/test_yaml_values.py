"""YAML edits change exactly the value's characters: every other byte of the file stays as it was."""

from __future__ import annotations

import io
import random

import pytest
from ruamel.yaml import YAML

from bot.edits import EditError, KeyNotFound, UnsupportedValue, apply_edit, edit_yaml_value
from bot.edits.yaml_values import is_plain_safe

# A Bitnami-style chart values file: 2-space indent, sequences not indented, comments everywhere.
BITNAMI_STYLE = """\
## @section Global parameters
## Please, note that this will override the image parameters, including dependencies
global:
  imageRegistry: ""
  ## E.g.
  ## imagePullSecrets:
  ##   - myRegistryKeySecretName
  imagePullSecrets: []

## @param image.registry [default: REGISTRY_NAME] image registry
image:
  registry: registry.example.com
  repository: serving/chat-llm   # the vLLM server image
  tag: 1.2.3
  digest: ""
  ## Specify a imagePullPolicy
  pullPolicy: IfNotPresent
containers:
- name: server
  image:
    tag: "1.2.3"
  args: [--model, /models/chat, --max-model-len, "8192"]
- name: sidecar
  image: {repository: envoyproxy/envoy, tag: 'v1.31.0'}
resources: {limits: {cpu: 1,  memory: 1Gi}}
"""

# A vLLM deployment chart values file: 4-space indent, indented sequences, explicit document markers.
VLLM_FOUR_SPACE = """\
---
# values for the production vLLM stack
servingEngineSpec:
    modelSpec:
        -   name: "chat"
            repository: "vllm/vllm-openai"
            tag: "v0.6.3"
            modelURL: "meta-llama/Llama-3.1-8B-Instruct"
            requestGPU: 1
        -   name: "embed"
            repository: "vllm/vllm-openai"
            tag: v0.6.2      # pinned until the embedding regression is fixed
    podAnnotations:
        "example.com/model-version": '7'
...
"""

# Anchors and aliases: the version is written once and reused.
ANCHORS = """\
versions:
  server: &serverVersion "2.4.0"
  metrics: &metricsVersion 0.9.1
server:
  image:
    tag: *serverVersion
exporter:
  image:
    tag: *metricsVersion
defaults: &defaults
  pullPolicy: Always
  tag: latest
worker:
  <<: *defaults
  replicas: 2
"""

CRLF = "image:\r\n  repository: nginx\r\n  tag: 1.25.3 # keep in sync\r\n\r\nreplicaCount: 2\r\n"

BOM_AND_NO_TRAILING_NEWLINE = "\ufeffimage:\n  tag: 1.0.0"

FLOW_AND_EMPTY = """\
image: {repository: ghcr.io/acme/app, tag: 0.1.0}
sidecars: [{name: a, tag: 1.0.0}, {name: b, tag: "2.0.0"}]
model:
  version:
  alias: champion
"""


def assert_only_line_changed(old: str, new: str, expected_line: str) -> None:
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    changed = [(before, after) for before, after in zip(old_lines, new_lines, strict=True) if before != after]
    assert len(changed) == 1, changed
    assert changed[0][1] == expected_line


@pytest.mark.parametrize(
    ("text", "key", "new_value", "expected_line", "old_value"),
    [
        (BITNAMI_STYLE, "image.tag", "1.2.4", "  tag: 1.2.4\n", "1.2.3"),
        (BITNAMI_STYLE, "image.tag", "1.10", '  tag: "1.10"\n', "1.2.3"),
        (BITNAMI_STYLE, "image.tag", "v1.10", "  tag: v1.10\n", "1.2.3"),
        (BITNAMI_STYLE, "image.tag", "on", '  tag: "on"\n', "1.2.3"),
        (BITNAMI_STYLE, "image.digest", "sha256:" + "a" * 64, f'  digest: "sha256:{"a" * 64}"\n', ""),
        (BITNAMI_STYLE, "containers[0].image.tag", "1.3.0", '    tag: "1.3.0"\n', "1.2.3"),
        (BITNAMI_STYLE, "containers.0.image.tag", "1.3.0", '    tag: "1.3.0"\n', "1.2.3"),
        (
            BITNAMI_STYLE,
            "containers[1].image.tag",
            "v1.32.0",
            "  image: {repository: envoyproxy/envoy, tag: 'v1.32.0'}\n",
            "v1.31.0",
        ),
        (
            BITNAMI_STYLE,
            "containers[0].args[3]",
            "16384",
            '  args: [--model, /models/chat, --max-model-len, "16384"]\n',
            "8192",
        ),
        (
            VLLM_FOUR_SPACE,
            "servingEngineSpec.modelSpec[0].tag",
            "v0.7.0",
            '            tag: "v0.7.0"\n',
            "v0.6.3",
        ),
        (
            VLLM_FOUR_SPACE,
            "servingEngineSpec.modelSpec[1].tag",
            "v0.7.0",
            "            tag: v0.7.0      # pinned until the embedding regression is fixed\n",
            "v0.6.2",
        ),
        (
            VLLM_FOUR_SPACE,
            'servingEngineSpec.podAnnotations."example.com/model-version"',
            "8",
            "        \"example.com/model-version\": '8'\n",
            "7",
        ),
        (ANCHORS, "versions.server", "2.5.0", '  server: &serverVersion "2.5.0"\n', "2.4.0"),
        (ANCHORS, "versions.metrics", "0.10.0", "  metrics: &metricsVersion 0.10.0\n", "0.9.1"),
        (ANCHORS, "defaults.tag", "1.0.0", "  tag: 1.0.0\n", "latest"),
        (CRLF, "image.tag", "1.27.0", "  tag: 1.27.0 # keep in sync\r\n", "1.25.3"),
        (
            FLOW_AND_EMPTY,
            "image.tag",
            "0.2.0",
            "image: {repository: ghcr.io/acme/app, tag: 0.2.0}\n",
            "0.1.0",
        ),
        (
            FLOW_AND_EMPTY,
            "sidecars[1].tag",
            "2.1.0",
            'sidecars: [{name: a, tag: 1.0.0}, {name: b, tag: "2.1.0"}]\n',
            "2.0.0",
        ),
        (FLOW_AND_EMPTY, "model.version", "7", '  version: "7"\n', None),
    ],
)
def test_edit_changes_exactly_one_line(
    text: str, key: str, new_value: str, expected_line: str, old_value: str | None
) -> None:
    result = edit_yaml_value(text, key, new_value)
    assert result.changed
    assert result.old_value == old_value
    assert_only_line_changed(text, result.text, expected_line)
    assert YAML(typ="safe", pure=True).load(result.text.removeprefix("\ufeff")) is not None


def test_anchored_value_changes_every_alias_with_it() -> None:
    result = edit_yaml_value(ANCHORS, "versions.server", "2.5.0")
    data = YAML(typ="safe", pure=True).load(result.text)
    assert data["server"]["image"]["tag"] == "2.5.0"
    assert data["exporter"]["image"]["tag"] == "0.9.1"


def test_bom_and_missing_trailing_newline_are_kept() -> None:
    result = edit_yaml_value(BOM_AND_NO_TRAILING_NEWLINE, "image.tag", "1.0.1")
    assert result.text == "\ufeffimage:\n  tag: 1.0.1"


def test_document_markers_are_kept() -> None:
    result = edit_yaml_value(VLLM_FOUR_SPACE, "servingEngineSpec.modelSpec[0].tag", "v0.7.0")
    assert result.text.startswith("---\n") and result.text.endswith("...\n")


def test_empty_value_without_trailing_space_gets_one_space() -> None:
    result = edit_yaml_value("tag:\nother: 1\n", "tag", "1.0.0")
    assert result.text == "tag: 1.0.0\nother: 1\n"


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        (BITNAMI_STYLE, "containers[0].image.tag", "1.2.3"),
        (BITNAMI_STYLE, "image.tag", "1.2.3"),
        (CRLF, "image.tag", "1.25.3"),
        ("build: 42\n", "build", "42"),
    ],
)
def test_value_already_set_returns_text_unchanged(text: str, key: str, value: str) -> None:
    result = edit_yaml_value(text, key, value)
    assert result.changed is False
    assert result.text is text
    assert result.old_value == value


def test_float_looking_value_is_rewritten_as_a_string() -> None:
    # ``tag: 1.10`` is the float 1.1 to Helm; writing the same text quoted fixes it.
    result = edit_yaml_value("tag: 1.10\n", "tag", "1.10")
    assert result.changed
    assert result.text == 'tag: "1.10"\n'


@pytest.mark.parametrize(
    ("text", "key", "error", "message"),
    [
        (BITNAMI_STYLE, "image.version", KeyNotFound, "image.version: no such key in image"),
        (
            BITNAMI_STYLE,
            "containers[5].image.tag",
            KeyNotFound,
            "containers[5]: containers has only 2 item(s)",
        ),
        (BITNAMI_STYLE, "containers.name", KeyNotFound, "containers is a list"),
        (BITNAMI_STYLE, "image.tag.major", KeyNotFound, "image.tag is a scalar"),
        (BITNAMI_STYLE, "image", UnsupportedValue, "the value is a mapping"),
        (BITNAMI_STYLE, "global.imagePullSecrets", UnsupportedValue, "the value is a list"),
        (ANCHORS, "server.image.tag", UnsupportedValue, "alias of an anchor defined at line 2"),
        (ANCHORS, "worker.tag", UnsupportedValue, "merge key"),
        ("a: |\n  1.2.3\n", "a", UnsupportedValue, "block scalar"),
        ("a: 1\n---\na: 2\n", "a", EditError, "2 YAML documents"),
        ("a: [1\n", "a", EditError, "not valid YAML: line 2"),
        ("", "a", KeyNotFound, "no YAML document"),
        ("a: 1\n", "a..b", EditError, "invalid path"),
        ("list:\n- &x 1.0.0\n- *x\n", "list[1]", UnsupportedValue, "alias"),
    ],
)
def test_refusals_name_the_path(text: str, key: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        edit_yaml_value(text, key, "9.9.9")
    assert message in str(raised.value)


def test_ruamel_round_trip_dump_would_touch_other_lines() -> None:
    """Why the editor splices instead of dumping: the round-trip dumper re-spaces unrelated lines."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 10**9
    data = yaml.load(BITNAMI_STYLE)
    data["image"]["tag"] = "1.2.4"
    out = io.StringIO()
    yaml.dump(data, out)
    dumped_changes = sum(
        a != b for a, b in zip(BITNAMI_STYLE.splitlines(), out.getvalue().splitlines(), strict=False)
    )
    assert dumped_changes > 1
    spliced = edit_yaml_value(BITNAMI_STYLE, "image.tag", "1.2.4").text
    assert sum(a != b for a, b in zip(BITNAMI_STYLE.splitlines(), spliced.splitlines(), strict=True)) == 1


TRICKY_VALUES = [
    "1.2.4",
    "v2.0.0-rc.1",
    "1.10",
    "10",
    "1e3",
    "0x1F",
    "yes",
    "Off",
    "~",
    "null",
    "2024-01-01",
    "1:20",
    "a: b",
    "#hash",
    "with space",
    "- dash",
    'say "hi"',
    "O'Reilly",
    "back\\slash",
    "sha256:" + "0" * 64,
    "1.2.3@sha256:" + "f" * 64,
    "registry.example.com:5000/serving/chat-llm:1.2.3",
    "ünïcode-1.0",
    "{flow}",
    "*star",
]


@pytest.mark.parametrize(
    ("text", "key", "plain_original"),
    [
        (BITNAMI_STYLE, "image.tag", True),
        (BITNAMI_STYLE, "containers[0].image.tag", False),
        (BITNAMI_STYLE, "containers[1].image.tag", False),
        (BITNAMI_STYLE, "containers[0].args[1]", True),
        (VLLM_FOUR_SPACE, "servingEngineSpec.modelSpec[1].tag", True),
        (ANCHORS, "versions.server", False),
        (CRLF, "image.tag", True),
        (FLOW_AND_EMPTY, "sidecars[0].tag", True),
    ],
)
def test_any_value_reads_back_and_edits_back_to_the_original(
    text: str, key: str, plain_original: bool
) -> None:
    """Property: for each value, the file reads back that string, only one line differs, and writing
    the old value back restores the original bytes -- unless the value forced a plain scalar into
    quotes, in which case the old value comes back double-quoted on that one line."""
    rng = random.Random(key)
    values = [
        *TRICKY_VALUES,
        *(f"{rng.randint(0, 99)}.{rng.randint(0, 99)}.{rng.randint(0, 99)}" for _ in range(5)),
    ]
    original = edit_yaml_value(text, key, "placeholder-value").old_value
    assert original is not None
    for value in values:
        result = edit_yaml_value(text, key, value)
        assert result.changed
        assert result.old_value == original
        old_lines, new_lines = text.splitlines(keepends=True), result.text.splitlines(keepends=True)
        assert sum(a != b for a, b in zip(old_lines, new_lines, strict=True)) == 1
        back = edit_yaml_value(result.text, key, original)
        if not plain_original or is_plain_safe(value):
            assert back.text == text, value
        else:
            assert sum(a != b for a, b in zip(text.splitlines(), back.text.splitlines(), strict=True)) == 1
            assert f'"{original}"' in back.text


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("1.2.3", True),
        ("v1.10", True),
        ("latest", True),
        ("1.10", False),
        ("7", False),
        ("yes", False),
        ("y", False),
        ("on", False),
        ("2024-01-01", False),
        ("1:20", False),
        ("", False),
        (" padded", False),
        ("a #b", False),
        ("a,b", False),
        ("@at", False),
    ],
)
def test_is_plain_safe(value: str, plain: bool) -> None:
    assert is_plain_safe(value) is plain


@pytest.mark.parametrize(
    "path",
    ["values.yaml", "serving.tfvars", "serving.tfvars.json"],
)
def test_a_file_nested_thousands_of_levels_deep_is_an_edit_error_not_a_crash(path: str) -> None:
    deep = {
        "values.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\nimage:\n  tag: v1\n",
        "serving.tfvars": "a = " + "[" * 5000 + "]" * 5000 + '\nversion = "v1"\n',
        "serving.tfvars.json": '{"a": ' + "[" * 100_000 + "]" * 100_000 + ', "version": "v1"}',
    }[path]
    target = "image.tag" if path.endswith(".yaml") else "version"
    with pytest.raises(EditError, match=rf"^{path}: .*(nested|deeper)"):
        apply_edit(path, deep, target, "v2")
