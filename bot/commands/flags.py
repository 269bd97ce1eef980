"""A small, pure re-implementation of the pflag rules Atlantis parses comment flags with.

Atlantis hands the words after ``atlantis <command>`` to ``spf13/pflag`` (``ContinueOnError``),
so teams moving over expect its behaviour: GNU-style ``--long``/``--long=value``, ``-s value``,
``-svalue`` and ``-s=value``; flags and stray words may be interspersed (stray words are
reported afterwards as "unknown argument(s)"); ``--`` ends flag parsing and everything after
it is kept; ``-h``/``--help`` asks for the command's usage; error texts match pflag's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


@dataclass(frozen=True)
class FlagSpec:
    long: str
    short: str | None
    takes_value: bool  # False: a boolean flag, true when present (``--verbose``)

    @property
    def synopsis(self) -> str:
        name = f"-{self.short}, --{self.long}" if self.short else f"    --{self.long}"
        return f"{name} string" if self.takes_value else name


class FlagError(ValueError):
    """The words do not parse; the message is pflag's wording."""


class HelpRequested(Exception):
    """``-h`` or ``--help`` was given and the command does not define it."""


@dataclass(frozen=True)
class ParsedFlags:
    values: dict[str, str | bool]  # by long name; only flags that were given
    positionals: tuple[str, ...]  # stray words before ``--``
    after_dash: tuple[str, ...] | None  # words after ``--``; None when there was no ``--``


def _bool_value(spec: FlagSpec, text: str, shown: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FlagError(f'invalid argument "{text}" for "{shown}" flag: expected true or false')


def parse_flags(words: Sequence[str], specs: Sequence[FlagSpec]) -> ParsedFlags:
    by_long = {spec.long: spec for spec in specs}
    by_short = {spec.short: spec for spec in specs if spec.short}
    values: dict[str, str | bool] = {}
    positionals: list[str] = []
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--":
            return ParsedFlags(values, tuple(positionals), tuple(rest))
        if len(word) < 2 or not word.startswith("-"):
            positionals.append(word)
            continue
        if word.startswith("--"):
            name, has_value, inline = word[2:].partition("=")
            if not name or name[0] in "-=":
                raise FlagError(f"bad flag syntax: {word}")
            spec = by_long.get(name)
            if spec is None:
                if name == "help":
                    raise HelpRequested
                raise FlagError(f"unknown flag: --{name}")
            shown = f"--{name}"
            if not spec.takes_value:
                values[spec.long] = _bool_value(spec, inline, shown) if has_value else True
            elif has_value:
                values[spec.long] = inline
            elif rest:
                # Like pflag, the next word is the value even when it starts with '-'.
                values[spec.long] = rest.pop(0)
            else:
                raise FlagError(f"flag needs an argument: {shown}")
            continue
        shorthands = word[1:]
        while shorthands:
            letter = shorthands[0]
            spec = by_short.get(letter)
            if spec is None:
                if letter == "h":
                    raise HelpRequested
                raise FlagError(f"unknown shorthand flag: '{letter}' in -{shorthands}")
            if not spec.takes_value:
                if len(shorthands) > 2 and shorthands[1] == "=":
                    values[spec.long] = _bool_value(spec, shorthands[2:], f"-{letter}")
                    shorthands = ""
                else:
                    values[spec.long] = True
                    shorthands = shorthands[1:]
                continue
            if len(shorthands) > 2 and shorthands[1] == "=":
                values[spec.long] = shorthands[2:]
            elif len(shorthands) > 1:
                values[spec.long] = shorthands[1:]
            elif rest:
                values[spec.long] = rest.pop(0)
            else:
                raise FlagError(f"flag needs an argument: '{letter}' in -{shorthands}")
            shorthands = ""
    return ParsedFlags(values, tuple(positionals), None)
