"""The work tree packed for a Terraform Job and unpacked in its pod: what goes, what is refused."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from bot.adapters.terraform_jobs import bundle as bundle_module
from bot.adapters.terraform_jobs.bundle import BundleError, extract_bundle, make_bundle


def work_tree(root: Path) -> Path:
    (root / "terraform/staging/.terraform/providers").mkdir(parents=True)
    (root / "terraform/staging/.terraform/providers/huge").write_bytes(b"\0" * 1000)
    (root / "terraform/staging/main.tf").write_text('resource "terraform_data" "x" {}\n')
    (root / "terraform/staging/.terraform.lock.hcl").write_text("# lock\n")
    (root / "terraform/staging/gitops-bot-default.tfplan").write_bytes(b"PK\x03\x04\xff plan")
    (root / "modules/shared").mkdir(parents=True)
    (root / "modules/shared/vars.tf").write_text('variable "x" {}\n')
    (root / "scripts").mkdir()
    (root / "scripts/run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "scripts/run.sh").chmod(0o755)
    (root / ".git").mkdir()
    (root / ".git/config").write_text("[core]\n")
    (root / "empty").mkdir()
    # In-tree symlinks: a relative file link, an absolute one (rewritten), a directory link.
    (root / "terraform/staging/vars.tf").symlink_to("../../modules/shared/vars.tf")
    (root / "terraform/staging/abs-vars.tf").symlink_to(root / "modules/shared/vars.tf")
    (root / "terraform/staging/shared").symlink_to("../../modules/shared", target_is_directory=True)
    return root


def tar_gz(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def test_the_tree_goes_whole_without_git_and_terraform_dirs(tmp_path: Path) -> None:
    source = work_tree(tmp_path / "source")
    dest = tmp_path / "dest"
    extract_bundle(make_bundle(source), dest)

    staging = dest / "terraform/staging"
    assert (staging / "main.tf").read_text() == 'resource "terraform_data" "x" {}\n'
    assert (staging / ".terraform.lock.hcl").is_file()  # only the .terraform directory stays behind
    assert (staging / "gitops-bot-default.tfplan").read_bytes() == b"PK\x03\x04\xff plan"
    assert not (staging / ".terraform").exists() and not (dest / ".git").exists()
    assert (dest / "empty").is_dir()
    assert os.access(dest / "scripts/run.sh", os.X_OK)
    assert os.readlink(staging / "vars.tf") == "../../modules/shared/vars.tf"
    assert os.readlink(staging / "abs-vars.tf") == "../../modules/shared/vars.tf"
    assert (staging / "vars.tf").read_text() == (staging / "abs-vars.tf").read_text() == 'variable "x" {}\n'
    assert (staging / "shared").is_symlink() and (staging / "shared/vars.tf").is_file()


def test_the_same_tree_gives_the_same_bytes_in_sorted_order(tmp_path: Path) -> None:
    source = work_tree(tmp_path / "source")
    first = make_bundle(source)
    assert make_bundle(source) == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        names = tar.getnames()
    assert names[:4] == ["empty", "modules", "modules/shared", "modules/shared/vars.tf"]
    assert all(".git" not in name.split("/") and ".terraform" not in name.split("/") for name in names)


def test_more_names_can_be_left_out(tmp_path: Path) -> None:
    source = work_tree(tmp_path / "source")
    extract_bundle(make_bundle(source, exclude=(".git", ".terraform", "scripts")), tmp_path / "dest")
    assert not (tmp_path / "dest/scripts").exists()


@pytest.mark.parametrize("target", ["../../outside.txt", "ABSOLUTE", "../../source/../outside.txt"])
def test_a_symlink_out_of_the_tree_is_refused(tmp_path: Path, target: str) -> None:
    source = tmp_path / "source"
    (source / "dir").mkdir(parents=True)
    (tmp_path / "outside.txt").write_text("secret")
    link = tmp_path / "outside.txt" if target == "ABSOLUTE" else target
    (source / "dir/leak.tf").symlink_to(link)
    with pytest.raises(BundleError, match=r"the symlink dir/leak.tf leads out of the work tree"):
        make_bundle(source)


def test_a_symlink_chain_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "up").symlink_to("..", target_is_directory=True)
    with pytest.raises(BundleError, match="the symlink up leads out"):
        make_bundle(source)


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    os.mkfifo(source / "pipe")
    with pytest.raises(BundleError, match="pipe is not a regular file, a directory or a symlink"):
        make_bundle(source)


def test_a_tree_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.bin").write_bytes(b"a" * 600)
    (source / "b.bin").write_bytes(b"b" * 600)
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(BundleError, match="over the 0 MiB limit of a Terraform Job"):
        make_bundle(source)


def test_a_bundle_over_the_size_limit_is_not_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tar_gz((member("a.bin"), b"a" * 600), (member("b.bin"), b"b" * 600))
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(BundleError, match="limit"):
        extract_bundle(data, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []  # nothing written before the check


def test_a_bundle_with_too_many_members_is_not_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tar_gz(*((member(f"f{index}"), b"") for index in range(5)))
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_MEMBERS", 4)
    with pytest.raises(BundleError, match="over 4 members"):
        extract_bundle(data, tmp_path / "dest")


def test_a_compressed_bundle_over_its_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "MAX_COMPRESSED_BYTES", 10)
    with pytest.raises(BundleError, match="over the 10-byte limit"):
        extract_bundle(tar_gz((member("a"), b"x")), tmp_path / "dest")


@pytest.mark.parametrize(
    ("bad", "data"),
    [
        ("a '..' member", (member("../escaped.tf"), b"x")),
        ("a nested '..' member", (member("ok/../../escaped.tf"), b"x")),
        ("an absolute member", (member("/tmp/escaped.tf"), b"x")),
        ("a symlink out", (member("leak", tarfile.SYMTYPE, "../../etc/passwd"), None)),
        ("an absolute symlink", (member("leak", tarfile.SYMTYPE, "/etc/passwd"), None)),
        ("a hard link out", (member("leak", tarfile.LNKTYPE, "../outside"), None)),
        ("a device", (member("dev", tarfile.CHRTYPE), None)),
        ("a fifo", (member("fifo", tarfile.FIFOTYPE), None)),
    ],
)
def test_an_unsafe_member_is_refused_on_unpacking(
    tmp_path: Path, bad: str, data: tuple[tarfile.TarInfo, bytes | None]
) -> None:
    dest = tmp_path / "a/dest"
    with pytest.raises(BundleError, match=r"the bundle (cannot be unpacked|has the absolute path)"):
        extract_bundle(tar_gz(data), dest)
    assert not (tmp_path / "a/escaped.tf").exists() and not (tmp_path / "escaped.tf").exists(), bad


@pytest.mark.parametrize("data", [b"", b"not a gzip at all", b"\x1f\x8b\x08\x00garbage"])
def test_garbage_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(BundleError, match="the bundle cannot be unpacked"):
        extract_bundle(data, tmp_path / "dest")


def test_a_missing_tree_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="is not a directory"):
        make_bundle(tmp_path / "missing")


def test_a_bundle_error_is_a_value_error() -> None:
    # The runner reports a ValueError from packing as the run's failure.
    assert issubclass(BundleError, ValueError)


def test_a_tree_with_too_many_files_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("a", "b", "c"):
        (source / name).write_text(name)
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_MEMBERS", 2)
    with pytest.raises(BundleError, match="over 2 files and directories"):
        make_bundle(source)
