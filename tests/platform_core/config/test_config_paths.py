"""Path confinement and capped reads against a real directory tree with real
symlinks, FIFOs and oversized files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from platform_core.config import FileTooLarge, UnsafePath, check_path_within, read_capped
from platform_core.errors import NotFound


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    (base / "conf" / "nested").mkdir(parents=True)
    (base / "conf" / "app.toml").write_text("a = 1\n")
    (base / "conf" / "nested" / "deep.toml").write_text("b = 2\n")
    (tmp_path / "outside.toml").write_text("stolen = true\n")
    return base


def test_a_file_below_the_root_is_read(root: Path) -> None:
    assert read_capped(root, "conf/app.toml", 100) == b"a = 1\n"
    assert read_capped(root, "./conf/nested/deep.toml", 100) == b"b = 2\n"


@pytest.mark.parametrize(
    "relative",
    ["../outside.toml", "conf/../../outside.toml", "conf/..", "/etc/passwd", "", ".",
     "conf/app.toml\x00.png", "conf\\app.toml"],
)
def test_paths_that_escape_or_are_malformed_are_refused(root: Path, relative: str) -> None:
    with pytest.raises(UnsafePath):
        read_capped(root, relative, 100)
    with pytest.raises(UnsafePath):
        check_path_within(root, relative)


def test_a_symlinked_file_is_refused_even_when_it_points_inside(root: Path) -> None:
    (root / "conf" / "alias.toml").symlink_to(root / "conf" / "app.toml")
    with pytest.raises(UnsafePath, match="symlink"):
        read_capped(root, "conf/alias.toml", 100)
    with pytest.raises(UnsafePath, match="symlink"):
        check_path_within(root, "conf/alias.toml")


def test_a_symlink_to_a_file_outside_is_refused(root: Path) -> None:
    (root / "conf" / "escape.toml").symlink_to(root.parent / "outside.toml")
    with pytest.raises(UnsafePath):
        read_capped(root, "conf/escape.toml", 100)


def test_a_symlinked_directory_on_the_way_is_refused(root: Path) -> None:
    (root / "linked").symlink_to(root / "conf", target_is_directory=True)
    with pytest.raises(UnsafePath, match="symlink"):
        read_capped(root, "linked/app.toml", 100)
    with pytest.raises(UnsafePath, match="symlink"):
        check_path_within(root, "linked/app.toml")
    with pytest.raises(UnsafePath):
        check_path_within(root, "linked/not-yet-created")


def test_a_dangling_symlink_is_refused_not_reported_missing(root: Path) -> None:
    (root / "conf" / "dangling.toml").symlink_to(root / "nowhere")
    with pytest.raises(UnsafePath):
        read_capped(root, "conf/dangling.toml", 100)
    with pytest.raises(UnsafePath):
        check_path_within(root, "conf/dangling.toml")


def test_a_missing_file_is_not_found(root: Path) -> None:
    with pytest.raises(NotFound):
        read_capped(root, "conf/missing.toml", 100)


def test_a_path_through_a_regular_file_is_refused(root: Path) -> None:
    with pytest.raises(UnsafePath):
        read_capped(root, "conf/app.toml/x", 100)
    with pytest.raises(UnsafePath):
        check_path_within(root, "conf/app.toml/x")


def test_a_directory_or_a_fifo_is_not_read_as_a_file(root: Path) -> None:
    os.mkfifo(root / "conf" / "pipe")
    with pytest.raises(UnsafePath, match="regular file"):
        read_capped(root, "conf/pipe", 100)
    with pytest.raises(UnsafePath):
        read_capped(root, "conf/nested", 100)


def test_a_file_at_the_cap_is_read_and_one_byte_over_is_refused(root: Path) -> None:
    (root / "conf" / "sized").write_bytes(b"x" * 64)
    assert len(read_capped(root, "conf/sized", 64)) == 64
    with pytest.raises(FileTooLarge, match="63 bytes"):
        read_capped(root, "conf/sized", 63)


def test_a_huge_sparse_file_is_refused_without_reading_it(root: Path) -> None:
    with (root / "conf" / "huge").open("wb") as handle:
        handle.truncate(8 * 1024**3)
    with pytest.raises(FileTooLarge):
        read_capped(root, "conf/huge", 1024)


def test_a_not_yet_existing_path_below_the_root_is_accepted(root: Path) -> None:
    assert check_path_within(root, "data/new/dir") == root / "data" / "new" / "dir"
    assert check_path_within(root, "conf/app.toml") == root / "conf" / "app.toml"
