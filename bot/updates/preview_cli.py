"""``gitops-bot preview``: the update pull requests an event would open, worked out from a checkout.

Reads ``.gitops-bot.yaml`` and the target files from the work tree of ``--repo DIR`` (so a config
being edited can be tried before it is pushed), asks :mod:`bot.updates.preview`, and prints the
answer from ``templates/cli/preview.txt.j2``. Nothing is written to DIR and nothing goes over
the network. Exit codes follow ``git diff --exit-code``: 0 when no pull request would be opened,
1 when one would, 2 when the input is wrong (one line per problem, naming it).

A target file is read the way the forge hands it out: a symbolic link that leaves the checkout,
or a directory, is refused as the live update refuses it (:mod:`bot.updates.targets`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import RepoConfig
    from bot.updates.preview import Preview, PreviewEvent

PROG = "gitops-bot preview"
CONFIG_FILE = ".gitops-bot.yaml"
TEMPLATE = "cli/preview.txt.j2"
EXIT_NO_CHANGE, EXIT_CHANGE, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """What is wrong with the command's input: each line is printed as it is, and the exit is 2."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines


@dataclass(frozen=True)
class CheckoutFiles:
    """A checkout's work tree, read as the forge reads a branch: a missing file is None; a link
    leaving the checkout, or a directory, is refused with why."""

    root: Path

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        from bot.adapters.forge.port import ForgeValidationError
        from bot.updates.targets import escaping_symlink

        leaves = escaping_symlink(self.root, path)
        if leaves is not None:
            raise ForgeValidationError(leaves)
        full = self.root / path
        if not full.exists():
            return None
        if not full.is_file():
            raise ForgeValidationError(f"{path} in {repo} is a directory, not a file")
        return full.read_bytes()


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    preview = commands.add_parser(
        "preview",
        help="show the update pull requests an image push or model version would open in a checkout",
        description=(
            "Offline: which deployments of DIR's .gitops-bot.yaml match the event, what each decides "
            "and the diff of each pull request. Exit 0: none would be opened; 1: one would; 2: bad input."
        ),
    )
    preview.add_argument("--repo", required=True, metavar="DIR", help="a checkout of the GitOps repository")
    event = preview.add_mutually_exclusive_group(required=True)
    event.add_argument("--image", metavar="REF", help="a pushed image: REGISTRY/REPO:TAG[@DIGEST]")
    event.add_argument("--model", metavar="NAME", help="an MLflow registered model (with --version)")
    preview.add_argument("--digest", metavar="D", help="the pushed image's digest (default: none)")
    preview.add_argument("--version", metavar="N", help="the model version (required with --model)")
    preview.add_argument(
        "--alias", metavar="A", help="the alias set on that version (default: a new version, no alias)"
    )
    preview.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        event = event_from_args(args)
        root = _checkout(args.repo)
        config = _load_config(root)
        preview = _preview(root, config, event)
    except BadInput as bad:
        for line in bad.lines:
            print(f"{PROG}: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(render(preview, config=config, checkout=args.repo))
    return EXIT_CHANGE if preview.proposes else EXIT_NO_CHANGE


def event_from_args(args: argparse.Namespace) -> PreviewEvent:
    """The event the options describe, as a registry or MLflow webhook would deliver it."""
    from bot.events.model import ModelVersionAliasSet, ModelVersionCreated

    if args.image is not None:
        if args.version is not None or args.alias is not None:
            raise BadInput("--version and --alias describe a model version: use them with --model")
        return image_event(args.image, args.digest)
    if args.digest is not None:
        raise BadInput("--digest describes an image push: use it with --image")
    if not args.version:
        raise BadInput("--model needs --version N (the model version that was registered)")
    if args.alias is not None:
        return ModelVersionAliasSet(name=args.model, alias=args.alias, version=args.version)
    return ModelVersionCreated(name=args.model, version=args.version)


def image_event(reference: str, digest: str | None) -> PreviewEvent:
    from bot.events.model import ImagePushed
    from bot.images import InvalidImageReference, parse_image_reference

    try:
        image = parse_image_reference(reference)
    except InvalidImageReference as exc:
        raise BadInput(f"--image: {exc}") from None
    if digest is not None:
        if image.digest is not None and image.digest != digest:
            raise BadInput(f"--image {reference} names digest {image.digest}, --digest says {digest}")
        try:  # checked as a reference's digest is; the tag stays the reference's
            image = replace(image, digest=parse_image_reference(f"{image.name}@{digest}").digest)
        except InvalidImageReference:
            raise BadInput(f"--digest {digest}: not an image digest (like sha256:<64 hex digits>)") from None
    if image.tag is None and image.digest is None:
        raise BadInput(f"--image {reference} names no tag: give REGISTRY/REPO:TAG (or a digest)")
    return ImagePushed(
        registry=image.registry,
        repository=image.repository,
        tag=image.tag,
        digest=image.digest,
        format="distribution",
        event_id="preview",
    )


def _checkout(directory: str) -> Path:
    root = Path(directory)
    if not root.is_dir():
        raise BadInput(f"--repo {directory}: no such directory")
    return root


def _load_config(root: Path) -> RepoConfig:
    from bot.adapters.forge.port import ForgeValidationError
    from bot.config import ConfigInvalid, load_repo_config_bytes

    try:
        data = CheckoutFiles(root).read_file(root.name, CONFIG_FILE, "work tree")
    except ForgeValidationError as exc:
        raise BadInput(f"{root / CONFIG_FILE}: {exc.message}") from None
    if data is None:
        raise BadInput(f"{root / CONFIG_FILE}: no such file (is {root} a GitOps repository's checkout?)")
    try:
        return load_repo_config_bytes(data, filename=str(root / CONFIG_FILE))
    except ConfigInvalid as invalid:
        summary = f"{len(invalid.errors)} error(s) in {root / CONFIG_FILE}"
        raise BadInput(*(str(error) for error in invalid.errors), summary) from None


def _preview(root: Path, config: RepoConfig, event: PreviewEvent) -> Preview:
    from bot.updates.preview import event_matches, preview_event, target_paths
    from bot.updates.targets import read_targets

    repo = root.resolve().name
    paths = target_paths(event_matches(config, event))
    files = read_targets(CheckoutFiles(root), repo, paths, "work tree")
    return preview_event(config, event, repo=repo, files=files.texts, unusable=files.unusable)


def render(preview: Preview, *, config: RepoConfig, checkout: str) -> str:
    from bot.templating import template_environment
    from bot.updates.plan import UpdatePlan
    from bot.updates.render import UpdateTexts

    templates = template_environment()
    # The title the pull request would get, from the same template the live update renders.
    texts = UpdateTexts(templates)
    titles = {
        item.deployment.name: texts.title(item.decision)
        for item in preview.deployments
        if isinstance(item.decision, UpdatePlan)
    }
    return templates.get_template(TEMPLATE).render(
        preview=preview, config=config, checkout=checkout, config_file=CONFIG_FILE, titles=titles
    )
