"""A GitOps repository with image and model deployments, and the whole bot wired to it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require

REPO = "acme/gitops"
CONFIG = """\
version: 1
deployments:
  - name: chat-llm-staging
    trigger:
      image: {repository: registry.example.com/serving/chat-llm, tags: "semver:>=1.0.0,<2"}
    targets:
      - {file: apps/chat-llm/values-staging.yaml, key: image.tag}
      - file: apps/chat-llm/values-staging.yaml
        key: "podAnnotations.\\"example.com/image-digest\\""
        format: digest
      - {file: terraform/staging/serving.auto.tfvars, variable: chat_llm_version}
    pull_request:
      labels: [model-update]
      reviewers: [alice]
    canary:
      interval: 30s
      duration: 2m
  - name: embedder
    trigger:
      image: {repository: registry.example.com/serving/embedder}
    targets:
      - {file: apps/embedder/values.yaml, key: "containers[0].image", format: "image@digest"}
    pull_request: {automerge: true}
  - name: reranker-staging
    trigger:
      model: {name: reranker, alias: champion}
    targets:
      - {file: terraform/staging/serving.auto.tfvars, variable: reranker_model_version}
  - name: scorer
    trigger:
      model: {name: scorer}
    targets:
      - {file: apps/scorer/values.yaml, key: model.version}
notify:
  slack: {channel: "#ml-deploys"}
"""
VALUES = """\
# chat-llm on staging
image:
  repository: registry.example.com/serving/chat-llm
  tag: "1.2.0"   # set by gitops-bot
podAnnotations:
  example.com/image-digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
resources:
  limits: {nvidia.com/gpu: 1}
"""
TFVARS = """\
# Serving stack, staging
chat_llm_version = "1.2.0"
reranker_model_version = "3"   # MLflow version
gpu_count = 2
"""
EMBEDDER = (
    """\
containers:
  - name: embedder
    image: registry.example.com/serving/embedder:0.9.0@sha256:"""
    + "1" * 64
    + "\n"
)
SCORER = "model:\n  name: scorer\n  version: '1'\n"
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "apps/chat-llm/values-staging.yaml": VALUES,
    "terraform/staging/serving.auto.tfvars": TFVARS,
    "apps/embedder/values.yaml": EMBEDDER,
    "apps/scorer/values.yaml": SCORER,
}
DIGEST = "sha256:" + "ab" * 32


@contextmanager
def gitops_env(root: Path, database_url: str, forge: str = "github") -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(root, database_url, repo=REPO, files=FILES, forge=forge) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[BotEnv]:
    with gitops_env(tmp_path, database_url) as built:
        yield built


@pytest.fixture
def dry_env(tmp_path: Path, database_url: str) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(tmp_path, database_url, repo=REPO, files=FILES, dry_run=True) as built:
        yield built
