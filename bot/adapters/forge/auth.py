"""Credentials for the GitHub adapter: a token, or a GitHub App's id and private key."""

from __future__ import annotations

from pathlib import Path

PEM_MARKER = "-----BEGIN"


def load_private_key(value: str) -> str:
    """The App's private key from PEM text or from the path of a PEM file."""
    text = value.strip()
    if not text:
        raise ValueError("the GitHub App private key is empty")
    if text.startswith(PEM_MARKER):
        # Keys pasted into an environment variable often carry literal "\n" sequences.
        return text.replace("\\n", "\n") + "\n"
    path = Path(text).expanduser()
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(
            "the GitHub App private key is neither PEM text nor the path of a readable file "
            f"(no file at {path})"
        ) from None
    except OSError as error:
        raise ValueError(f"cannot read the GitHub App private key file {path}: {error.strerror}") from None
    if PEM_MARKER not in content:
        raise ValueError(f"{path} does not contain a PEM private key")
    return content
