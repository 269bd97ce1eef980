"""tfvars edits splice one string literal; comments, heredocs and layout elsewhere are untouched."""

from __future__ import annotations

import hcl2
import pytest

from bot.edits import EditError, KeyNotFound, UnsupportedValue, edit_tfvars_value
from bot.edits.tfvars import hcl_string_literal

SERVING_TFVARS = """\
# Serving stack, staging. Managed partly by gitops-bot: keep one assignment per line.
region           = "eu-west-1"
chat_llm_version = "1.2.3" # bumped by gitops-bot
// the reranker is pinned by hand
reranker_version = "0.4.1"
replicas         = 3
gpu_ratio        = 0.5
/* multi-line
   chat_llm_version = "0.0.1" in a comment must not be touched */
startup_script = <<-EOT
  #!/bin/sh
  chat_llm_version = "1.2.3"
  echo "${var.region}"
EOT
serving = {
  chat_llm = {
    version = "1.2.3"
    "display-name" = "Chat"
  }
  reranker = { version = "0.4.1", replicas = 2 }
}
model_versions = ["7", "8"]
endpoint       = "https://${var.region}.example.com"
enabled        = true
canary_tag     = null
"""


def assert_only_line_changed(old: str, new: str, expected_line: str) -> None:
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    changed = [after for before, after in zip(old_lines, new_lines, strict=True) if before != after]
    assert changed == [expected_line]


@pytest.mark.parametrize(
    ("variable", "new_value", "expected_line", "old_value"),
    [
        ("chat_llm_version", "1.3.0", 'chat_llm_version = "1.3.0" # bumped by gitops-bot\n', "1.2.3"),
        ("reranker_version", "0.5.0", 'reranker_version = "0.5.0"\n', "0.4.1"),
        ("replicas", "4", 'replicas         = "4"\n', "3"),
        ("gpu_ratio", "0.75", 'gpu_ratio        = "0.75"\n', "0.5"),
        ("serving.chat_llm.version", "2.0.0", '    version = "2.0.0"\n', "1.2.3"),
        ("serving.chat_llm.display-name", "Chat 2", '    "display-name" = "Chat 2"\n', "Chat"),
        ("serving.reranker.version", "0.5.0", '  reranker = { version = "0.5.0", replicas = 2 }\n', "0.4.1"),
        ("model_versions[1]", "9", 'model_versions = ["7", "9"]\n', "8"),
        ("canary_tag", "1.3.0-rc.1", 'canary_tag     = "1.3.0-rc.1"\n', None),
        (
            "chat_llm_version",
            "1.3.0@sha256:" + "a" * 64,
            f'chat_llm_version = "1.3.0@sha256:{"a" * 64}" # bumped by gitops-bot\n',
            "1.2.3",
        ),
    ],
)
def test_edit_changes_exactly_one_line(
    variable: str, new_value: str, expected_line: str, old_value: str | None
) -> None:
    result = edit_tfvars_value(SERVING_TFVARS, variable, new_value)
    assert result.changed
    assert result.old_value == old_value
    assert_only_line_changed(SERVING_TFVARS, result.text, expected_line)


def test_comments_and_heredoc_survive_and_the_file_still_parses() -> None:
    result = edit_tfvars_value(SERVING_TFVARS, "chat_llm_version", "1.3.0")
    assert '/* multi-line\n   chat_llm_version = "0.0.1" in a comment must not be touched */' in result.text
    assert '  chat_llm_version = "1.2.3"\n' in result.text  # inside the heredoc
    data = hcl2.loads(result.text)
    assert data["chat_llm_version"] == '"1.3.0"'


def test_crlf_line_endings_are_kept() -> None:
    text = '# pinned\r\nchat_llm_version = "1.2.3"\r\nother = "x"\r\n'
    result = edit_tfvars_value(text, "chat_llm_version", "1.2.4")
    assert result.text == '# pinned\r\nchat_llm_version = "1.2.4"\r\nother = "x"\r\n'


def test_value_already_set_returns_text_unchanged() -> None:
    result = edit_tfvars_value(SERVING_TFVARS, "serving.chat_llm.version", "1.2.3")
    assert result.changed is False
    assert result.text is SERVING_TFVARS


@pytest.mark.parametrize(
    ("variable", "error", "message"),
    [
        ("missing_version", KeyNotFound, "missing_version: no such variable"),
        ("serving.embedder.version", KeyNotFound, "serving.embedder: no such key in serving"),
        ("serving.chat_llm", UnsupportedValue, "the value is an object"),
        ("model_versions[5]", KeyNotFound, "has only 2 item(s)"),
        ("endpoint", UnsupportedValue, "interpolation"),
        ("startup_script", UnsupportedValue, "heredoc"),
        ("enabled", UnsupportedValue, "boolean true"),
        ("chat_llm_version.inner", KeyNotFound, "is not an object or list literal"),
        ("[0]", EditError, "invalid path"),
    ],
)
def test_refusals_name_the_variable(variable: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        edit_tfvars_value(SERVING_TFVARS, variable, "9.9.9")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('a = upper("x")\n', "a function call"),
        ('a = ("x")\n', "a parenthesised expression"),
        ("a = var.x\n", "an expression"),
        ('a = "x" == "y"\n', "an expression"),
    ],
)
def test_expressions_are_refused(text: str, message: str) -> None:
    with pytest.raises(UnsupportedValue, match=message):
        edit_tfvars_value(text, "a", "1")


def test_duplicate_assignment_is_refused() -> None:
    with pytest.raises(EditError, match="assigned 2 times"):
        edit_tfvars_value('v = "1"\nv = "2"\n', "v", "3")


def test_invalid_hcl_is_reported() -> None:
    with pytest.raises(EditError, match="not valid HCL"):
        edit_tfvars_value('v = "1\n', "v", "3")


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("1.2.3", '"1.2.3"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("${not_interpolated}", '"$${not_interpolated}"'),
        ("%{not_a_directive}", '"%%{not_a_directive}"'),
        ("line\nbreak", '"line\\nbreak"'),
    ],
)
def test_string_literals_round_trip(value: str, literal: str) -> None:
    assert hcl_string_literal(value) == literal
    result = edit_tfvars_value('v = "old" # c\n', "v", value)
    assert result.text == f"v = {literal} # c\n"
    assert edit_tfvars_value(result.text, "v", value).changed is False
