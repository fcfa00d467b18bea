"""The local artifact repository: round trips, listings, atomic writes, symlinks that lead out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runstack.artifacts.local import TEMP_PREFIX, LocalArtifactRepository
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError, ResourceNotFoundError


@pytest.fixture
def repo(tmp_path: Path) -> LocalArtifactRepository:
    return LocalArtifactRepository(str(tmp_path / "root" / "run1" / "artifacts"))


def _tree(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    (source / "sub" / "deep").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "sub" / "b.bin").write_bytes(b"\x00\x01" * 1000)
    (source / "sub" / "deep" / "c.json").write_text("{}")
    return source


def test_log_file_round_trip(repo: LocalArtifactRepository, tmp_path: Path) -> None:
    source = tmp_path / "model.pkl"
    payload = os.urandom(3 * 1024 * 1024 + 7)
    source.write_bytes(payload)
    repo.log_file(source)
    repo.log_file(source, "models/v1")
    assert (repo.root / "model.pkl").read_bytes() == payload
    assert repo.list() == [
        FileInfo("model.pkl", False, len(payload)),
        FileInfo("models", True, None),
    ]
    assert repo.list("models") == [FileInfo("models/v1", True, None)]
    assert repo.list("models/v1/") == [FileInfo("models/v1/model.pkl", False, len(payload))]
    out = repo.download("models/v1/model.pkl", tmp_path / "out")
    assert out == tmp_path / "out" / "models" / "v1" / "model.pkl"
    assert out.read_bytes() == payload


def test_log_directory_and_download_tree(repo: LocalArtifactRepository, tmp_path: Path) -> None:
    repo.log_directory(_tree(tmp_path), "data")
    assert [i.path for i in repo.list("data")] == ["data/a.txt", "data/sub"]
    assert repo.list("data/sub") == [
        FileInfo("data/sub/b.bin", False, 2000),
        FileInfo("data/sub/deep", True, None),
    ]
    whole = repo.download("", tmp_path / "all")
    assert whole == tmp_path / "all"
    assert (whole / "data" / "sub" / "deep" / "c.json").read_text() == "{}"
    part = repo.download("data/sub", tmp_path / "part")
    assert (part / "b.bin").read_bytes() == b"\x00\x01" * 1000


def test_write_bytes_replaces_and_lists_nothing_for_files(
    repo: LocalArtifactRepository,
) -> None:
    repo.write_bytes(b"one", "x/y.txt")
    repo.write_bytes(b"two", "x/y.txt")
    assert (repo.root / "x" / "y.txt").read_bytes() == b"two"
    assert repo.list("x/y.txt") == []
    assert repo.list("missing") == []
    assert not [p for p in (repo.root / "x").iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_missing_download_and_delete(repo: LocalArtifactRepository, tmp_path: Path) -> None:
    with pytest.raises(ResourceNotFoundError, match="'nope'"):
        repo.download("nope", tmp_path)
    repo.write_bytes(b"1", "d/f")
    repo.write_bytes(b"2", "g")
    repo.delete("d")
    assert [i.path for i in repo.list()] == ["g"]
    repo.delete()
    assert not repo.root.exists()
    repo.delete("never-there")


@pytest.mark.parametrize("bad", ["../x", "/etc", "a\\b", "a\x00", "C:/x"])
def test_every_operation_refuses_escaping_paths(
    repo: LocalArtifactRepository, tmp_path: Path, bad: str
) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    attempts = [
        lambda: repo.log_file(source, bad),
        lambda: repo.log_directory(tmp_path, bad),
        lambda: repo.write_bytes(b"x", bad),
        lambda: repo.list(bad),
        lambda: repo.download(bad, tmp_path / "out"),
        lambda: repo.delete(bad),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidParameterError, match="Invalid artifact path"):
            attempt()
    assert not (tmp_path / "x").exists()


def test_symlinks_leading_out_are_refused(repo: LocalArtifactRepository, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    repo.write_bytes(b"ok", "ok.txt")
    os.symlink(outside, repo.root / "link")
    os.symlink(outside / "secret", repo.root / "file-link")
    for attempt in (
        lambda: repo.write_bytes(b"x", "link/new"),
        lambda: repo.list("link"),
        lambda: repo.download("link/secret", tmp_path / "out"),
        lambda: repo.download("file-link", tmp_path / "out"),
        lambda: repo.delete("link/secret"),
        lambda: repo.log_file(outside / "secret", "link"),
    ):
        with pytest.raises(InvalidParameterError, match="symlink"):
            attempt()
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "secret"
    # Listings and whole-tree downloads skip them instead of following them.
    assert [i.path for i in repo.list()] == ["ok.txt"]
    whole = repo.download("", tmp_path / "all")
    assert sorted(p.name for p in whole.iterdir()) == ["ok.txt"]


def test_symlinked_root_and_inner_links_that_stay_inside_work(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "alias")
    repo = LocalArtifactRepository(str(tmp_path / "alias"))
    repo.write_bytes(b"x", "d/f")
    os.symlink(real / "d", real / "d-again")
    assert repo.list("d-again") == [FileInfo("d-again/f", False, 1)]


def test_reserved_temporary_names_are_refused(
    repo: LocalArtifactRepository, tmp_path: Path
) -> None:
    with pytest.raises(InvalidParameterError, match="reserved"):
        repo.write_bytes(b"x", f"{TEMP_PREFIX}abc")
    source = tmp_path / f"{TEMP_PREFIX}x"
    source.write_text("x")
    with pytest.raises(InvalidParameterError, match="reserved"):
        repo.log_file(source)


def test_logging_a_file_onto_itself_is_a_no_op(repo: LocalArtifactRepository) -> None:
    repo.write_bytes(b"same", "f.txt")
    repo.log_file(repo.root / "f.txt")
    assert (repo.root / "f.txt").read_bytes() == b"same"


def test_file_uri_roots(tmp_path: Path) -> None:
    repo = LocalArtifactRepository((tmp_path / "a b").as_uri())
    repo.write_bytes(b"x", "f")
    assert (tmp_path / "a b" / "f").read_bytes() == b"x"
    with pytest.raises(InvalidParameterError, match="not a host"):
        LocalArtifactRepository("file://otherhost/x")


_KILLED_WRITER = """
import os, sys, time
from pathlib import Path
from runstack.artifacts import copying
from runstack.artifacts.local import LocalArtifactRepository

def half_then_hang(source, target):
    os.write(target, os.read(source, 1 << 20))
    print("writing", flush=True)
    time.sleep(60)

copying._copy_fd = half_then_hang
LocalArtifactRepository(sys.argv[1]).log_file(Path(sys.argv[2]), "models")
"""


def _kill_while_writing(code: str, *args: Path) -> None:
    """Run ``code`` in a child interpreter and SIGKILL it once it prints "writing"."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)


def test_a_killed_write_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 << 20))
    _kill_while_writing(_KILLED_WRITER, root, big)
    repo = LocalArtifactRepository(str(root))
    assert repo.list("models") == []
    assert not (root / "models" / "big.bin").exists()
    leftovers = list((root / "models").iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(TEMP_PREFIX)
    with pytest.raises(ResourceNotFoundError):
        repo.download("models/big.bin", tmp_path / "out")
    # A later, complete write publishes the file.
    repo.log_file(big, "models")
    assert (root / "models" / "big.bin").read_bytes() == big.read_bytes()


def test_log_directory_merges_into_existing_folders(
    repo: LocalArtifactRepository, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "d").mkdir(parents=True)
    (second / "d" / "e").mkdir(parents=True)
    (first / "d" / "a.txt").write_text("a1")
    (first / "d" / "keep.txt").write_text("keep")
    (second / "d" / "a.txt").write_text("a2")
    (second / "d" / "e" / "new.txt").write_text("new")
    repo.log_directory(first, "out")
    repo.log_directory(second, "out")
    assert (repo.root / "out" / "d" / "a.txt").read_text() == "a2"
    assert (repo.root / "out" / "d" / "keep.txt").read_text() == "keep"
    assert (repo.root / "out" / "d" / "e" / "new.txt").read_text() == "new"
    assert not [p for p in repo.root.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    assert not [p for p in repo.root.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_log_directory_follows_symlink_loops_once(
    repo: LocalArtifactRepository, tmp_path: Path
) -> None:
    source = tmp_path / "loop"
    (source / "d").mkdir(parents=True)
    (source / "d" / "f").write_text("f")
    os.symlink(source, source / "d" / "back")
    repo.log_directory(source, "x")
    assert (repo.root / "x" / "d" / "f").read_text() == "f"
    assert not (repo.root / "x" / "d" / "back").exists()


_KILLED_FOLDER_WRITER = """
import sys, time
from pathlib import Path
from runstack.artifacts import copying
from runstack.artifacts.local import LocalArtifactRepository

real = copying._plain_copy
count = 0
def copy_then_hang(source, target):
    global count
    real(source, target)
    count += 1
    if count == 3:
        print("writing", flush=True)
        time.sleep(60)

copying._plain_copy = copy_then_hang
LocalArtifactRepository(sys.argv[1]).log_directory(Path(sys.argv[2]), "batch")
"""


def test_a_killed_folder_upload_leaves_nothing_visible(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    source = tmp_path / "src"
    source.mkdir()
    for i in range(10):
        (source / f"f{i}.txt").write_text(str(i))
    _kill_while_writing(_KILLED_FOLDER_WRITER, root, source)
    repo = LocalArtifactRepository(str(root))
    assert repo.list() == []
    assert repo.list("batch") == []
    (leftover,) = root.iterdir()
    assert leftover.name.startswith(TEMP_PREFIX)
    repo.log_directory(source, "batch")
    assert len(repo.list("batch")) == 10
