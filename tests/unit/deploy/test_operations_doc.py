"""deploy/README.md stays true: its URLs are the bot's routes, its Secret keys are the chart's,
its settings exist, and the chart's NOTES name the same webhook URLs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.intake.routes import ROUTES as INTAKE_ROUTES
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "deploy" / "README.md").read_text()
VALUES = yaml.safe_load((ROOT / "deploy" / "helm" / "gitops-bot" / "values.yaml").read_text())
ROUTES = {route.path for route in INTAKE_ROUTES}


def test_every_webhook_url_is_a_route_and_every_route_is_documented() -> None:
    documented = {path for path in re.findall(r"https://HOST(/[a-z/]+)", DOC)}
    assert documented == ROUTES
    notes = (ROOT / "deploy" / "helm" / "gitops-bot" / "templates" / "NOTES.txt").read_text()
    assert set(re.findall(r"\}\}(/(?:webhooks|slack)/[a-z]+)", notes)) == ROUTES


def test_secret_keys_are_the_charts() -> None:
    keys = set(re.findall(r"--from-(?:literal|file)=([a-z-]+)=", DOC))
    chart = set(VALUES["credentials"]["keys"].values()) - {"github-token"}  # the token is the alternative
    assert keys == chart | {VALUES["database"]["urlKey"]}
    assert f"secret generic {VALUES['credentials']['existingSecret']} " in DOC
    assert f"secret generic {VALUES['database']['existingSecret']} " in DOC


def test_settings_named_in_the_doc_exist() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    named = set(re.findall(r"config\.([A-Z_]+)", DOC)) | set(re.findall(r"GITOPS_BOT_([A-Z_]+)", DOC))
    named |= set(re.findall(r"^  ([A-Z_]+):", DOC, re.MULTILINE))
    assert named and named <= fields, named - fields


def test_the_app_manifests_are_the_files_under_deploy() -> None:
    """The manifests themselves are checked against the bot in tests/unit/deploy/test_app_manifests.py."""
    assert "[`deploy/slack-app.yaml`](slack-app.yaml)" in DOC
    assert "[`deploy/github-app.json`](github-app.json)" in DOC
