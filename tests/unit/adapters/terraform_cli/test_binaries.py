"""Which executable a pinned ``terraform_version`` runs: a table over directories and their files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.adapters.terraform_cli.binaries import (
    BinaryMissing,
    Listing,
    find_versioned_binary,
    resolve_versioned_binary,
    search_directories,
    versioned_name,
)

OPT, USR, LOCAL = Path("/opt/terraform"), Path("/usr/bin"), Path("/usr/local/bin")


def listing(directory: Path, *names: str) -> Listing:
    return Listing(directory, frozenset(names))


@pytest.mark.parametrize(
    ("version", "binary", "listings", "bin_dir", "expected"),
    [
        # Found on PATH.
        ("1.15.5", "terraform", [listing(USR, "terraform-1.15.5")], None, USR / "terraform-1.15.5"),
        # The first directory holding it wins: the configured one is searched first.
        (
            "1.15.5",
            "terraform",
            [listing(OPT, "terraform-1.15.5"), listing(USR, "terraform-1.15.5")],
            OPT,
            OPT / "terraform-1.15.5",
        ),
        (
            "1.15.5",
            "terraform",
            [listing(OPT), listing(LOCAL, "terraform-1.15.5")],
            OPT,
            LOCAL / "terraform-1.15.5",
        ),
        # OpenTofu: tofu-<version>, never terraform-<version>.
        (
            "1.9.0",
            "tofu",
            [listing(USR, "terraform-1.9.0"), listing(LOCAL, "tofu-1.9.0")],
            None,
            LOCAL / "tofu-1.9.0",
        ),
        ("1.9.0", "/usr/local/bin/tofu", [listing(LOCAL, "tofu-1.9.0")], None, LOCAL / "tofu-1.9.0"),
        # Missing: a sentence, never the default binary.
        (
            "1.9.0",
            "terraform",
            [listing(USR, "terraform", "terraform-1.15.5")],
            None,
            BinaryMissing(
                "terraform 1.9.0 is not installed on this bot: put terraform-1.9.0 on PATH "
                "or in GITOPS_BOT_TERRAFORM_BIN_DIR"
            ),
        ),
        (
            "1.9.0",
            "tofu",
            [listing(OPT, "terraform-1.9.0")],
            OPT,
            BinaryMissing(
                "tofu 1.9.0 is not installed on this bot: put tofu-1.9.0 on PATH "
                "or in `/opt/terraform` (GITOPS_BOT_TERRAFORM_BIN_DIR)"
            ),
        ),
        (
            "1.9.0",
            "terraform",
            [],
            None,
            BinaryMissing(
                "terraform 1.9.0 is not installed on this bot: put terraform-1.9.0 on PATH "
                "or in GITOPS_BOT_TERRAFORM_BIN_DIR"
            ),
        ),
    ],
)
def test_resolve_versioned_binary(
    version: str, binary: str, listings: list[Listing], bin_dir: Path | None, expected: Path | BinaryMissing
) -> None:
    assert resolve_versioned_binary(version, binary, listings, bin_dir=bin_dir) == expected


@pytest.mark.parametrize(
    ("bin_dir", "binary", "path_env", "expected"),
    [
        (None, "terraform", "/usr/local/bin:/usr/bin", [LOCAL, USR]),
        (OPT, "terraform", "/usr/bin", [OPT, USR]),
        (None, "/usr/local/bin/tofu", "/usr/bin::/usr/local/bin", [LOCAL, USR]),
        (USR, "terraform", "/usr/bin", [USR]),
        (OPT, "terraform", None, [OPT]),
        (None, "terraform", "", []),
    ],
)
def test_search_directories(
    bin_dir: Path | None, binary: str, path_env: str | None, expected: list[Path]
) -> None:
    assert search_directories(bin_dir, binary, path_env) == expected


def test_versioned_name() -> None:
    assert versioned_name("terraform", "1.15.5") == "terraform-1.15.5"
    assert versioned_name("/opt/bin/tofu", "1.9.0-rc1") == "tofu-1.9.0-rc1"


def test_find_lists_only_executable_files(tmp_path: Path) -> None:
    on_path, configured = tmp_path / "path", tmp_path / "configured"
    on_path.mkdir()
    configured.mkdir()
    (configured / "terraform-1.15.5").write_text("#!/bin/sh\n")  # not executable: skipped
    (on_path / "terraform-1.15.5").write_text("#!/bin/sh\n")
    (on_path / "terraform-1.15.5").chmod(0o755)
    (configured / "terraform-1.9.0").mkdir()  # a directory is no executable
    found = find_versioned_binary("1.15.5", "terraform", bin_dir=configured, path_env=str(on_path))
    assert found == on_path / "terraform-1.15.5"
    missing = find_versioned_binary(
        "1.9.0", "terraform", bin_dir=configured, path_env=os.pathsep.join([str(on_path)])
    )
    assert isinstance(missing, BinaryMissing) and str(configured) in missing.message
