"""The environment a terraform command runs with: built, not inherited wholesale (pure).

Only ``inherit`` patterns (PATH, HOME, locale, CA bundles and the Terraform CLI configuration by
default) are copied from the bot's environment, so the bot's own secrets do not reach
configurations from pull requests; credentials Terraform needs (cloud credentials, ``TF_TOKEN_*``
registry tokens, proxies) are passed by adding patterns (``GITOPS_BOT_TERRAFORM_ENV_PASSTHROUGH``)
or explicitly (``extra``). ``TF_WORKSPACE`` and ``TF_CLI_ARGS*`` are never inherited: they would
silently change which state is used or which flags run. ``TF_IN_AUTOMATION=1``, ``TF_INPUT=0``
and ``CHECKPOINT_DISABLE=1`` (no version check calls home) are always set.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

DEFAULT_INHERITED_ENV: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_*",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "TF_CLI_CONFIG_FILE",
    "TF_PLUGIN_CACHE_DIR",
    "TF_LOG",
)
_NEVER_INHERITED = ("TF_WORKSPACE", "TF_CLI_ARGS", "TF_CLI_ARGS_*")
_FORCED_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


def build_environment(
    source: Mapping[str, str],
    *,
    inherit: Iterable[str] = DEFAULT_INHERITED_ENV,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment Terraform runs with (pure): inherited patterns, forced values, ``extra``."""
    patterns = tuple(inherit)
    env = {
        name: value
        for name, value in source.items()
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
        and not any(fnmatch.fnmatchcase(name, pattern) for pattern in _NEVER_INHERITED)
    }
    env.update(_FORCED_ENV)
    env.update(extra or {})
    return env


__all__ = ["DEFAULT_INHERITED_ENV", "build_environment"]
