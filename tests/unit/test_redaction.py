"""Redaction: every configured secret, in every form a pull request's Terraform could print it."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import typing
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from pydantic import SecretStr

from bot.redaction import REDACTED, Redactor, redact_tokens
from bot.settings import Settings

RANDOM = random.Random(12)
# Not token-shaped on purpose: redaction must work from the configured value itself.
SECRET = "Zq8vN2mLr4Tx7KpW1sYc9HdE3jFa6GbU"
ODD_SECRET = 'p@ss w/rd+&=%ü<"\\\n-tail'
# Its base64 has "+" and "/" at every alignment: the URL-safe alphabet differs.
SYMBOL_SECRET = "~~??>>~~?>?>~~xyz"


def _random_bytes(size: int) -> bytes:
    return bytes(RANDOM.randrange(256) for _ in range(size))


def _environ(secret: bytes) -> bytes:
    """What ``file("/proc/1/environ")`` reads: NUL-separated variables, the secret among them."""
    variables = [
        b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
        b"HOME=/home/gitops-bot",
        b"GITOPS_BOT_GITHUB_TOKEN=" + secret,
        b"LANG=C.UTF-8",
        b"HOSTNAME=gitops-bot-7d9f8c6b5-x2k4q",
    ]
    return b"\0".join(variables) + b"\0"


def _blobs(secret: bytes) -> list[bytes]:
    """The secret after 0, 1, 2 and 3 prefix bytes, inside random bytes and inside an environ."""
    blobs = [_random_bytes(shift) + secret + _random_bytes(RANDOM.randrange(1, 40)) for shift in range(4)]
    blobs += [_random_bytes(shift) + _environ(secret) for shift in range(4)]
    blobs += [_random_bytes(200 + shift) + secret + _random_bytes(200) for shift in range(4)]
    return blobs


def _decode_leftovers(text: str, alphabet: str) -> list[bytes]:
    """Every byte string the unredacted base64 fragments decode to, at each of their 4 alignments."""
    decoded = []
    for fragment in text.split(REDACTED):
        plain = fragment.rstrip("=").translate(str.maketrans("-_", "+/")) if alphabet == "url" else fragment
        plain = plain.rstrip("=")
        for offset in range(4):
            aligned = plain[offset:]
            aligned = aligned[: len(aligned) - len(aligned) % 4]
            decoded.append(base64.b64decode(aligned, validate=True))
    return decoded


def _decode_hex_leftovers(text: str) -> list[bytes]:
    decoded = []
    for fragment in text.split(REDACTED):
        for offset in range(2):
            aligned = fragment[offset:]
            decoded.append(binascii.unhexlify(aligned[: len(aligned) - len(aligned) % 2]))
    return decoded


ENCODERS = {
    "standard padded": lambda blob: base64.b64encode(blob).decode(),
    "standard unpadded": lambda blob: base64.b64encode(blob).decode().rstrip("="),
    "url-safe padded": lambda blob: base64.urlsafe_b64encode(blob).decode(),
    "url-safe unpadded": lambda blob: base64.urlsafe_b64encode(blob).decode().rstrip("="),
}


@pytest.mark.parametrize(
    "secret",
    [SECRET, ODD_SECRET, SYMBOL_SECRET, "exactly8"],
    ids=["token", "odd-characters", "symbols", "shortest"],
)
@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_base64_of_a_blob_holding_the_secret_at_any_offset_gives_nothing_back(
    secret: str, encoding: str
) -> None:
    redactor = Redactor.from_secrets([secret])
    data = secret.encode()
    for blob in _blobs(data):
        shown = redactor.redact(ENCODERS[encoding](blob))
        assert REDACTED in shown
        leftovers = _decode_leftovers(shown, "url" if encoding.startswith("url") else "standard")
        # Only the one or two boundary characters (a few bits of the first and last byte) survive.
        assert not any(data[1:-1] in part for part in leftovers)


@pytest.mark.parametrize("encode", list(ENCODERS.values()), ids=list(ENCODERS))
def test_the_secret_encoded_alone_is_wholly_redacted(encode: typing.Callable[[bytes], str]) -> None:
    assert (
        Redactor.from_secrets([SECRET]).redact(f"value = {encode(SECRET.encode())}\n")
        == f"value = {REDACTED}\n"
    )


@pytest.mark.parametrize("case", [str.lower, str.upper], ids=["lower", "upper"])
def test_hex_of_a_whole_environ_gives_nothing_back(case: typing.Callable[[str], str]) -> None:
    redactor = Redactor.from_secrets([SECRET])
    for shift in range(4):
        shown = redactor.redact(case((_random_bytes(shift) + _environ(SECRET.encode())).hex()))
        assert REDACTED in shown
        assert not any(SECRET.encode() in part for part in _decode_hex_leftovers(shown.lower()))


def _go_json(secret: str) -> str:
    """How Terraform's ``jsonencode`` (Go's encoding/json) writes a string: HTML characters escaped."""
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    return escaped.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s,
        lambda s: quote(s, safe=""),
        quote,
        lambda s: quote_plus(s, safe=""),
        lambda s: re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(s, safe="")),
        lambda s: json.dumps({"k": s})[7:-2],
        lambda s: json.dumps({"k": s}, ensure_ascii=False)[7:-2],
        _go_json,
    ],
    ids=[
        "raw",
        "quote",
        "quote-keeps-slash",
        "quote_plus",
        "lower-case-escapes",
        "json",
        "json-unicode",
        "go-json",
    ],
)
def test_url_and_json_escaped_forms_are_redacted(encode: typing.Callable[[str], str]) -> None:
    redactor = Redactor.from_secrets([ODD_SECRET, SECRET])
    for secret in (ODD_SECRET, SECRET):
        form = encode(secret)
        shown = redactor.redact(f"https://example.com/hook?q={form}&page=2")
        assert shown == f"https://example.com/hook?q={REDACTED}&page=2"


def test_secrets_shorter_than_8_characters_are_ignored() -> None:
    redactor = Redactor.from_secrets(["hunter2", "", "  ab  "])
    text = f"hunter2 {base64.b64encode(b'hunter2').decode()} {b'hunter2'.hex()}"
    assert redactor.redact(text) == text
    assert redactor.secret_count == 0


def test_the_longest_form_wins_when_one_secret_starts_another() -> None:
    redactor = Redactor.from_secrets(["abcdefgh12", "abcdefgh12345"])
    assert redactor.redact("x abcdefgh12345 y abcdefgh12 z") == f"x {REDACTED} y {REDACTED} z"


PLAN = """\
Terraform used the selected providers to generate the following execution plan.

  # aws_instance.web will be created
  + resource "aws_instance" "web" {
      + ami                          = "ami-0123456789abcdef0"
      + arn                          = (known after apply)
      + instance_type                = "g5.xlarge"
      + tags                         = {
          + "Name" = "chat-llm-prod"
        }
      + user_data_base64             = "IyEvYmluL2Jhc2gKZWNobyBoZWxsbwo="
    }

  # helm_release.chat_llm will be updated in-place
  ~ resource "helm_release" "chat_llm" {
      ~ version = "1.4.2" -> "1.5.0"
        id      = "chat-llm"
    }

Plan: 1 to add, 1 to change, 0 to destroy.
"""


def test_ordinary_plan_text_is_left_alone() -> None:
    secrets = [base64.urlsafe_b64encode(_random_bytes(24)).decode() for _ in range(10)]
    redactor = Redactor.from_secrets([*secrets, "correct-horse-battery", "gitops-bot-webhook"])
    assert redactor.redact(PLAN) == PLAN
    assert redactor.redact(PLAN * 50) == PLAN * 50


TOKENS = [
    ("token ghp_" + "a" * 36, f"token {REDACTED}"),
    ("github_pat_" + "B1_" * 10, REDACTED),
    ("clone with glpat-" + "x1Y2-z_" * 4, f"clone with {REDACTED}"),
    ("deploy gldt-" + "Ab3" * 8, f"deploy {REDACTED}"),
    ("xoxb-1234567890-abcdefghij", REDACTED),
    ("key AKIA" + "B" * 16, f"key {REDACTED}"),
    ('password = "hunter2hunter2"', f'{REDACTED}"'),
    ("PASSWORD: longenough1", REDACTED),
    ("Api_Key=0123456789", REDACTED),
    ("sEcReT = abcdefghi", REDACTED),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabcd\n-----END RSA PRIVATE KEY-----", REDACTED),
    ("token = short", "token = short"),
]


@pytest.mark.parametrize(("text", "shown"), TOKENS)
def test_token_like_strings_are_still_caught(text: str, shown: str) -> None:
    assert redact_tokens(text) == shown
    assert Redactor().redact(text) == shown
    assert Redactor.from_secrets([SECRET]).redact(text) == shown


def _fake_pem() -> str:
    body = base64.b64encode(_random_bytes(600)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


def _secret_fields() -> list[str]:
    return [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation is SecretStr or SecretStr in typing.get_args(field.annotation)
    ]


def test_every_secret_setting_is_redacted_in_every_form() -> None:
    values = {name: f"{name}-{RANDOM.getrandbits(64):016x}" for name in _secret_fields()}
    assert {"github_token", "slack_bot_token", "registry_token"} <= set(values)
    values["github_app_private_key"] = _fake_pem()
    redactor = Redactor.from_settings(Settings(_env_file=None, **values), extra=["an-extra-secret-string"])
    for value in [*values.values(), "an-extra-secret-string"]:
        data = value.encode()
        for form in (
            value,
            base64.b64encode(b"x" + data).decode(),
            data.hex(),
            quote(value, safe=""),
            json.dumps(value),
        ):
            assert value not in redactor.redact(form)
            assert REDACTED in redactor.redact(form)


def test_a_private_key_is_redacted_line_by_line_and_without_its_armour() -> None:
    pem = _fake_pem()
    redactor = Redactor.from_settings(Settings(_env_file=None, github_app_private_key=SecretStr(pem)))
    body = pem.splitlines()[1:-1]
    assert redactor.redact(body[3]) == REDACTED
    assert redactor.redact("".join(body)) == REDACTED
    assert redactor.redact(json.dumps(pem)) == f'"{REDACTED}"'


def test_the_database_password_and_an_extra_pem_are_redacted() -> None:
    pem = _fake_pem()
    url = "postgresql+psycopg://gitops:s3cr%40t-db-pass@db.internal:5432/gitops"
    redactor = Redactor.from_settings(Settings(_env_file=None, database_url=url), extra=[pem])
    assert redactor.redact("s3cr@t-db-pass and s3cr%40t-db-pass") == f"{REDACTED} and {REDACTED}"
    assert redactor.redact(pem.splitlines()[4]) == REDACTED


def test_a_private_key_file_is_read_through_the_callable(tmp_path: Path) -> None:
    pem = _fake_pem()
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem)
    settings = Settings(_env_file=None, github_app_private_key=SecretStr(str(key_file)))
    body_line = pem.splitlines()[2]
    assert Redactor.from_settings(settings, read_file=Path.read_text).redact(body_line) == REDACTED
    assert Redactor.from_settings(settings).redact(body_line) == body_line  # not read without the callable


def test_an_unreadable_private_key_file_is_skipped_not_raised(tmp_path: Path) -> None:
    (tmp_path / "binary.pem").write_bytes(b"\xff\xfe\x00")
    for path in (tmp_path / "missing.pem", tmp_path, tmp_path / "binary.pem"):
        settings = Settings(
            _env_file=None, github_token=SecretStr(SECRET), github_app_private_key=SecretStr(str(path))
        )
        redactor = Redactor.from_settings(settings, read_file=Path.read_text)
        assert redactor.redact(SECRET) == REDACTED


def test_the_redactor_never_shows_its_secrets() -> None:
    redactor = Redactor.from_secrets([SECRET])
    assert SECRET not in repr(redactor) and SECRET not in str(redactor)
    assert repr(redactor) == "Redactor(secret_count=1)"


def test_a_secret_of_thousands_of_characters_builds() -> None:
    secret = base64.b64encode(_random_bytes(3000)).decode()
    assert Redactor.from_secrets([secret]).redact(f"a {secret.encode().hex()} b") == f"a {REDACTED} b"
