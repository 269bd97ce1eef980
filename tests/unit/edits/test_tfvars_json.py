"""tfvars.json edits splice one JSON string; indentation, key order and line endings are kept."""

from __future__ import annotations

import json

import pytest

from bot.edits import EditError, KeyNotFound, UnsupportedValue, edit_json_value

TWO_SPACE = """\
{
  "region": "eu-west-1",
  "chat_llm_version": "1.2.3",
  "replicas": 3,
  "serving": {
    "chat_llm": {"version": "1.2.3", "note": "caf\\u00e9 \\"quoted\\""},
    "versions": ["7", "8"]
  },
  "canary_tag": null,
  "enabled": true
}
"""

FOUR_SPACE_CRLF = '{\r\n    "chat_llm_version" : "1.2.3",\r\n    "b": [1, 2]\r\n}'

MINIFIED = '{"a":{"b":[{"c":"1.0.0"}]},"z":"x"}'


@pytest.mark.parametrize(
    ("text", "variable", "new_value", "expected"),
    [
        (
            TWO_SPACE,
            "chat_llm_version",
            "1.3.0",
            TWO_SPACE.replace('"1.2.3",\n  "replicas"', '"1.3.0",\n  "replicas"'),
        ),
        (
            TWO_SPACE,
            "serving.chat_llm.version",
            "2.0.0",
            TWO_SPACE.replace('{"version": "1.2.3"', '{"version": "2.0.0"'),
        ),
        (TWO_SPACE, "serving.versions[1]", "9", TWO_SPACE.replace('["7", "8"]', '["7", "9"]')),
        (TWO_SPACE, "serving.versions.0", "6", TWO_SPACE.replace('["7", "8"]', '["6", "8"]')),
        (TWO_SPACE, "replicas", "4", TWO_SPACE.replace('"replicas": 3', '"replicas": "4"')),
        (
            TWO_SPACE,
            "canary_tag",
            "1.3.0-rc.1",
            TWO_SPACE.replace('"canary_tag": null', '"canary_tag": "1.3.0-rc.1"'),
        ),
        (FOUR_SPACE_CRLF, "chat_llm_version", "1.2.4", FOUR_SPACE_CRLF.replace("1.2.3", "1.2.4")),
        (MINIFIED, "a.b[0].c", "1.0.1", MINIFIED.replace("1.0.0", "1.0.1")),
        (
            TWO_SPACE,
            "chat_llm_version",
            'q"u\\o',
            TWO_SPACE.replace('"1.2.3",\n  "replicas"', '"q\\"u\\\\o",\n  "replicas"'),
        ),
    ],
)
def test_edit_changes_only_the_value(text: str, variable: str, new_value: str, expected: str) -> None:
    result = edit_json_value(text, variable, new_value)
    assert result.changed
    assert result.text == expected


def test_old_value_is_decoded() -> None:
    result = edit_json_value(TWO_SPACE, "serving.chat_llm.note", "x")
    assert result.old_value == 'café "quoted"'
    assert json.loads(result.text)["serving"]["chat_llm"]["note"] == "x"


def test_value_already_set_returns_text_unchanged() -> None:
    result = edit_json_value(TWO_SPACE, "chat_llm_version", "1.2.3")
    assert result.changed is False
    assert result.text is TWO_SPACE


@pytest.mark.parametrize(
    ("text", "variable", "error", "message"),
    [
        (TWO_SPACE, "missing", KeyNotFound, "missing: no such key in the document root"),
        (TWO_SPACE, "serving", UnsupportedValue, "is an object"),
        (TWO_SPACE, "serving.versions", UnsupportedValue, "is an array"),
        (TWO_SPACE, "enabled", UnsupportedValue, "boolean true"),
        (TWO_SPACE, "serving.versions.x", KeyNotFound, "address its items as [N]"),
        (TWO_SPACE, "serving.versions[9]", KeyNotFound, "has only 2 item(s)"),
        ('{"v": "1", "v": "2"}', "v", EditError, "appears 2 times"),
        ('{"v": "1",}', "v", EditError, "not valid JSON"),
        ('{"v": "1"} x', "v", EditError, "extra data"),
    ],
)
def test_refusals_name_the_path(text: str, variable: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        edit_json_value(text, variable, "9.9.9")
    assert message in str(raised.value)
