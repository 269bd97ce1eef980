"""gitops-bot: registry and model events become pull requests; comments run Terraform; canaries roll back."""

from __future__ import annotations

from importlib import metadata


def installed_version() -> str:
    """The installed distribution's version (``unknown`` when run from a checkout not installed)."""
    try:
        return metadata.version("gitops-bot")
    except metadata.PackageNotFoundError:
        return "unknown"
