"""The Jinja environment every human text is rendered with (the repository's ``templates/``).

Compiling a template (parse, generate Python, compile it) costs milliseconds; running it costs
microseconds. One process can build several environments (each app or worker process's
services, the CLI's previews, tests that build many apps), so the compiled code is shared
between them through a bytecode cache. The cache is keyed by template name and file, and checked
against a checksum of the source, so an edited template is compiled again, never served stale.
"""

from __future__ import annotations

import threading
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket

from bot.adapters.forge.names import pull_reference
from bot.shipped import TEMPLATES, shipped_directory


class SharedBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates in memory, for every environment of the process that uses it."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            stored = self._compiled.get(bucket.key)
        if stored is not None:
            # Bucket checks the source's checksum and leaves the code unset on a mismatch.
            bucket.bytecode_from_string(stored)

    def dump_bytecode(self, bucket: Bucket) -> None:
        compiled = bucket.bytecode_to_string()
        with self._lock:
            self._compiled[bucket.key] = compiled

    def clear(self) -> None:
        with self._lock:
            self._compiled.clear()


# Shared only by template_environment's environments, all built with the same options: Jinja's
# cache key names the template and its file, not the options the code was compiled under.
_COMPILED = SharedBytecodeCache()


def template_environment(directory: Path | None = None) -> jinja2.Environment:
    """The templates in ``directory``, or by default the ones installed with the bot."""
    # The repository's templates/ folder, installed inside the bot (pyproject.toml's package-dir),
    # so an installed wheel finds it as well as an editable install does.
    loader = jinja2.FileSystemLoader(str(directory or shipped_directory(TEMPLATES)))
    environment = jinja2.Environment(
        loader=loader,
        # The console's pages are *.html.j2: select_autoescape matches the name's end only.
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_COMPILED,
    )
    # pull_ref(repo, number): "#12" on GitHub, "!12" on GitLab, for every text posted on a forge.
    environment.globals["pull_ref"] = pull_reference
    return environment
