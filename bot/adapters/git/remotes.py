"""Remote URLs and secrets, as pure functions: where a repository's mirror lives, and redaction.

A remote URL the bot stores or logs never carries credentials: tokens reach git through the askpass
helper (:mod:`bot.adapters.git.askpass`) only, so URLs with user info are refused rather than silently
cleaned (a token in a URL is a leak waiting for a log line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

# One path component of a mirror's location: what GitHub allows in owner and repository names.
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# scp-like ssh syntax: ``git@github.com:owner/repo.git``.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/\s]+)@)?(?P<host>[^:/\s]+):(?P<path>[^\s]+)$")

LOCAL_HOST = "local"
REDACTED = "***"
# Never redact very short strings: replacing "a" everywhere would make errors unreadable, and a
# secret that short is not a real token.
_MIN_SECRET_LENGTH = 4

# Any user info in an http(s) URL (a token may be the user name); a user:password pair in any URL.
_URL_USERINFO = re.compile(r"(?P<scheme>https?://)[^/@\s]+@", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@:\s]*:[^/@\s]*@", re.IGNORECASE)
_AUTH_HEADER = re.compile(r"(?P<name>authorization:\s*)(?:(?:basic|bearer|token)\s+)?\S+", re.IGNORECASE)
# GitHub token formats (classic, fine-grained, OAuth, App installation/user, refresh).
_GITHUB_TOKEN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|gl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat|ffct)-[A-Za-z0-9_-]{20,})"
)


@dataclass(frozen=True)
class RemoteRepo:
    """A repository on a remote, identified by ``host``/``owner``/``name``, with a credential-free ``url``."""

    url: str
    scheme: str  # https, http, ssh or file
    host: str  # "local" for file remotes
    owner: str
    name: str
    # The path above the owner on a forge with nested groups (GitLab's ``group/sub`` of
    # ``group/sub/owner/name``): part of where the mirror lives, so two projects of the same
    # owner/name in different groups never share one. Empty for GitHub and file remotes.
    namespace: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def uses_http(self) -> bool:
        return self.scheme in ("http", "https")

    @property
    def mirror_relpath(self) -> PurePosixPath:
        """``<host>/[<namespace>/]<owner>/<name>.git``: the mirror's place under ``<data_dir>/mirrors``."""
        return PurePosixPath(
            self.host, *[part for part in self.namespace.split("/") if part], self.owner, f"{self.name}.git"
        )


def parse_remote(url: str) -> RemoteRepo:
    """Parse an https/http/ssh/scp-like/file URL, or an absolute local path, into a :class:`RemoteRepo`.

    The owner and name are the last two path components (``.git`` removed). Raises ``ValueError``
    (with the URL redacted) for user info in an http(s) URL, unknown schemes and unsafe names.
    """
    text = url.strip()
    if not text:
        raise ValueError("remote URL is empty")
    if text.startswith("/"):
        text = "file://" + text
    if "://" not in text:
        match = _SCP_LIKE.match(text)
        if match is None:
            raise ValueError(f"unsupported remote URL {redact(text)!r}: expected https://, ssh://, file://")
        host = match.group("host")
        owner, name = _owner_and_name(match.group("path"), text)
        namespace = _namespace(match.group("path"), text)
        return RemoteRepo(
            url=text,
            scheme="ssh",
            host=_host_component(host, text),
            owner=owner,
            name=name,
            namespace=namespace,
        )
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if "@" in parts.netloc:
            # A token as user name or password: refuse, and never echo it.
            raise ValueError(
                f"remote URL {redact(text)!r} carries credentials; pass a credential-free URL and "
                "let the token provider supply the token"
            )
        if not parts.hostname:
            raise ValueError(f"remote URL {text!r} has no host")
        host = parts.hostname if parts.port is None else f"{parts.hostname}_{parts.port}"
    elif scheme == "ssh":
        if parts.password:
            raise ValueError(f"remote URL {redact(text)!r} carries a password; use keys or a token")
        if not parts.hostname:
            raise ValueError(f"remote URL {text!r} has no host")
        host = parts.hostname if parts.port is None else f"{parts.hostname}_{parts.port}"
    elif scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URL {text!r} names a host; use file:///absolute/path")
        host = LOCAL_HOST
    else:
        raise ValueError(f"unsupported remote URL scheme {scheme!r} in {redact(text)!r}")
    owner, name = _owner_and_name(parts.path, text)
    namespace = _namespace(parts.path, text) if scheme != "file" else ""
    return RemoteRepo(
        url=text, scheme=scheme, host=_host_component(host, text), owner=owner, name=name, namespace=namespace
    )


def _host_component(host: str, url: str) -> str:
    host = host.lower()
    if not _SAFE_COMPONENT.match(host):
        raise ValueError(f"remote URL {redact(url)!r} has an unusable host {host!r}")
    return host


def _owner_and_name(path: str, url: str) -> tuple[str, str]:
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) < 2:
        raise ValueError(f"remote URL {redact(url)!r} does not end in <owner>/<repository>")
    owner, name = segments[-2], segments[-1]
    name = name.removesuffix(".git")
    for component in (owner, name):
        if not _SAFE_COMPONENT.match(component) or component in (".", ".."):
            raise ValueError(f"remote URL {redact(url)!r} has an unusable owner or name {component!r}")
    return owner, name


def _namespace(path: str, url: str) -> str:
    segments = [segment for segment in path.split("/") if segment][:-2]
    for component in segments:
        if not _SAFE_COMPONENT.match(component) or component in (".", ".."):
            raise ValueError(f"remote URL {redact(url)!r} has an unusable group {component!r}")
    return "/".join(segments)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given secret, URL user info, Authorization value and GitHub token hidden."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group('name')}{REDACTED}", text)
    return _GITHUB_TOKEN.sub(REDACTED, text)
