"""The template environment's shared compiled code (bot/templating.py)."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from bot.templating import SharedBytecodeCache, template_environment


def test_environments_share_compiled_templates_and_an_edit_is_compiled_again(tmp_path: Path) -> None:
    (tmp_path / "note.md.j2").write_text("Hello {{ name }}\n")
    cache = SharedBytecodeCache()
    compiled: list[str] = []

    class Counting(jinja2.Environment):
        def _compile(self, source: str, filename: str) -> object:
            compiled.append(filename)
            return super()._compile(source, filename)

    def environment() -> jinja2.Environment:
        loader = jinja2.FileSystemLoader(str(tmp_path))
        return Counting(loader=loader, undefined=jinja2.StrictUndefined, bytecode_cache=cache)

    assert environment().get_template("note.md.j2").render(name="a") == "Hello a"
    assert environment().get_template("note.md.j2").render(name="b") == "Hello b"
    assert len(compiled) == 1  # the second environment ran the first one's code

    (tmp_path / "note.md.j2").write_text("Bye {{ name }}\n")
    os.utime(tmp_path / "note.md.j2", (1, 1))
    assert environment().get_template("note.md.j2").render(name="c") == "Bye c"
    assert len(compiled) == 2  # the source changed: compiled again, not served stale


def test_the_shipped_templates_render_the_same_from_a_second_environment() -> None:
    name = "commands/did_you_mean.md.j2"
    first = template_environment().get_template(name).render(message="Did you mean `plan`?")
    second = template_environment().get_template(name).render(message="Did you mean `plan`?")
    assert first == second and "plan" in first
