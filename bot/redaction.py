"""Redaction of secrets from text the bot shows: Terraform output in pull request comments and the job log.

A pull request's Terraform is code its author controls, and it can print a secret it managed to
read in a form a plain search would miss: ``base64encode(file("/proc/1/environ"))``, ``hex``,
``urlencode``, ``jsonencode``. :class:`Redactor` hides every configured secret in each of these forms,
wherever it sits inside a larger encoded blob, plus token-like strings of well-known shapes.

Redaction is defence in depth, not the boundary: an author who reverses a string or prints it one
character at a time still gets it out. The sandbox (the bot's secrets are not visible to Terraform)
is what keeps them; this catches the cheap tricks and the accidents.

Pure: no I/O. :meth:`Redactor.from_settings` reads a private key file only through the callable
it is given.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import quote, quote_plus, unquote, urlsplit

from pydantic import SecretStr

if TYPE_CHECKING:
    from bot.settings import Settings

REDACTED = "[redacted]"

# Shorter secrets are ignored: an 8-character floor keeps "admin" or "1234" from blanking out
# ordinary plan text, and a real credential is never that short.
MIN_SECRET_LENGTH = 8

# Token-like strings never reach a comment, whatever a provider or a script printed. Every
# alternative starts with a plain (cased) character: then Python's regex engine skips, in C, the
# positions where none can start and the alternatives whose first character differs, which keeps a
# megabyte of output in milliseconds; a leading ``(?i:…)`` would cost ten times as much.
_KEYWORDS = ("password", "secret", "token", "api_key")
_TOKEN_ALTERNATIVES = (
    r"gh[pousr]_[A-Za-z0-9]{20,}",
    r"github_pat_[A-Za-z0-9_]{20,}",
    # GitLab's prefixed tokens: personal/project/group access, OAuth, deploy, runner, CI job, trigger...
    r"gl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat|ffct)-[A-Za-z0-9_-]{20,}",
    r"xox[abposr]-[A-Za-z0-9-]{10,}",
    r"AKIA[0-9A-Z]{16}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    *(
        rf"{first}(?i:{word[1:]})\s*[=:]\s*\"?[^\s\"]{{8,}}"
        for word in _KEYWORDS
        for first in (word[0], word[0].upper())
    ),
)
_TOKENS = re.compile("|".join(_TOKEN_ALTERNATIVES))

_PEM_MARKER = "-----BEGIN"
# Secret forms as a trie: one key per next character; the key "" marks the end of a form.
_Trie: TypeAlias = dict[str, "_Trie"]
_STANDARD_TO_URL_SAFE = str.maketrans("+/", "-_")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
# What Go's encoding/json (Terraform's jsonencode) escapes beyond what Python's json does.
_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def redact_tokens(text: str) -> str:
    """``text`` with token-like strings (GitHub, GitLab, Slack, AWS keys, PEM keys, ``password=…``) hidden."""
    return _TOKENS.sub(REDACTED, text)


def base64_cores(data: bytes) -> set[str]:
    """The base64 characters that ``data`` alone decides, at each of the 3 byte alignments.

    Embedded ``k`` bytes into a larger blob, ``data`` occupies bits ``[8k, 8k + 8n)`` of the
    stream; a base64 character covers 6 bits, and only those lying wholly inside that range are
    independent of the neighbouring bytes. Those are the "core" matched here, in the standard and
    the URL-safe alphabets; the one or two boundary characters (a few bits of the first and last byte) stay.
    """
    cores: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + data).decode("ascii")
        start = -(-8 * shift // 6)  # ceil: the first character with no bit of the prefix
        end = (8 * shift + 8 * len(data)) // 6  # floor: the last one with no bit of what follows
        core = encoded[start:end]
        cores |= {core, core.translate(_STANDARD_TO_URL_SAFE)}
    return cores


def _base64_whole(data: bytes) -> set[str]:
    """The secret encoded on its own, padded and not, so no trailing character of it is left over."""
    forms: set[str] = set()
    for encoded in (base64.b64encode(data).decode("ascii"), base64.urlsafe_b64encode(data).decode("ascii")):
        forms |= {encoded, encoded.rstrip("=")}
    return forms


def _url_forms(secret: str) -> set[str]:
    quoted = {quote(secret, safe=""), quote(secret), quote_plus(secret, safe=""), quote_plus(secret)}
    # Some encoders write %2f rather than %2F.
    return quoted | {_PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), form) for form in quoted}


def _json_forms(secret: str) -> set[str]:
    python_ascii = json.dumps(secret)[1:-1]
    python_unicode = json.dumps(secret, ensure_ascii=False)[1:-1]
    go = "".join(_GO_JSON_ESCAPES.get(char, char) for char in python_unicode)
    return {python_ascii, python_unicode, go}


def encoded_forms(secret: str) -> set[str]:
    """Every string that shows ``secret``: itself, base64 (any alignment), hex, URL- and JSON-escaped."""
    data = secret.encode("utf-8")
    hexed = data.hex()
    forms = {secret, hexed, hexed.upper()}
    forms |= base64_cores(data) | _base64_whole(data) | _url_forms(secret) | _json_forms(secret)
    # A core of a short secret can be shorter than the floor: too short to match safely.
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def pem_parts(text: str) -> set[str]:
    """A PEM block's base64 body, joined and line by line: a key can be printed without its armour."""
    lines = [line.strip() for line in text.strip().splitlines()]
    body = [line for line in lines if line and not line.startswith("-----") and ":" not in line]
    return {"".join(body), *body} if body else set()


def _trie_branches(words: Iterable[str]) -> list[str]:
    """The top-level alternatives of one regex matching ``words`` as a trie: the longest wins at a position.

    A flat ``a|b|c…`` alternation tries every word at every position; a trie tries one branch per
    distinct next character (about half the time for a hundred forms).
    """
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _branches(trie)


def _branches(node: _Trie) -> list[str]:
    return [_emit_chain(char, child) for char, child in sorted(node.items()) if char]


def _emit(node: _Trie) -> str:
    branches = _branches(node)
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # A word ends here and longer ones go on: the greedy "?" tries the longer ones first.
    return f"(?:{body})?" if "" in node else body


def _emit_chain(char: str, node: _Trie) -> str:
    # Runs of single characters without a branch are walked, not recursed: a PEM key's hex form
    # is thousands of characters long, far deeper than Python's recursion limit.
    run = [char]
    while len(node) == 1 and "" not in node:
        ((char, node),) = node.items()
        run.append(char)
    return re.escape("".join(run)) + _emit(node)


@dataclass(frozen=True)
class Redactor:
    """Hides configured secrets, in every encoded form, and token-like strings, in one regex pass.

    Build it once (:meth:`from_secrets` or :meth:`from_settings`) and share it: it is immutable.
    Secrets shorter than :data:`MIN_SECRET_LENGTH` (8) characters are ignored, as are encoded forms
    that short: matching them would redact ordinary words of a plan.
    """

    secret_count: int = 0
    # The pattern holds the secrets: never in a repr, a log line or an error.
    _pattern: re.Pattern[str] = field(default=_TOKENS, repr=False, compare=False)

    @classmethod
    def from_secrets(cls, secrets: Iterable[str]) -> Redactor:
        """A redactor for ``secrets`` (plain strings; empty and short ones are skipped)."""
        kept = {
            value
            for secret in secrets
            for value in (secret, secret.strip())
            if len(value) >= MIN_SECRET_LENGTH
        }
        forms = {form for secret in kept for form in encoded_forms(secret)}
        if not forms:
            return cls(0, _TOKENS)
        # Configured secrets first: at one position the exact secret beats a token-shaped guess.
        # One flat alternation, each branch starting with a plain character (see _TOKEN_ALTERNATIVES).
        pattern = re.compile("|".join([*_trie_branches(forms), *_TOKEN_ALTERNATIVES]))
        return cls(len(kept), pattern)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        extra: Iterable[str] = (),
        read_file: Callable[[Path], str] | None = None,
    ) -> Redactor:
        """A redactor for every ``SecretStr`` setting, the database URL's password, and ``extra`` strings.

        ``github_app_private_key`` is PEM text or a path to it: a path is read with ``read_file``
        (e.g. ``Path.read_text``) when given; a file that cannot be read is skipped, never raised.
        PEM text also adds its base64 body, whole and line by line.
        """
        secrets = [*extra, *_url_password(settings.database_url)]
        for name in type(settings).model_fields:
            value = getattr(settings, name)
            if not isinstance(value, SecretStr):
                continue
            text = value.get_secret_value()
            if name == "github_app_private_key" and _PEM_MARKER not in text:
                text = _read_quietly(read_file, Path(text).expanduser()) if read_file else ""
            secrets.append(text)
        secrets += [part for text in secrets if _PEM_MARKER in text for part in pem_parts(text)]
        return cls.from_secrets(secrets)

    def redact(self, text: str) -> str:
        """``text`` with every secret form and token-like string replaced by ``[redacted]``."""
        return self._pattern.sub(REDACTED, text)


def _url_password(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:  # not a URL the database layer would accept either
        return []
    return [password, unquote(password)] if password else []


def _read_quietly(read_file: Callable[[Path], str], path: Path) -> str:
    try:
        return read_file(path)
    except (OSError, ValueError):  # missing, unreadable, not UTF-8: the key simply is not known
        return ""
