"""atomic_write: a file is replaced whole or left untouched."""

import errno
import os
import subprocess
import sys

import pytest

from sklearn_l3ae._core import atomic as _atomic
from sklearn_l3ae._core.atomic import atomic_write


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_writes_the_content(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_write(path) as file:
        file.write(b"new content")
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_text_mode_and_str_paths(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_write(str(path), "w", encoding="utf-8") as file:
        file.write("é\n")
    assert path.read_bytes() == "é\n".encode()


def test_replaces_an_existing_file_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    path.chmod(0o640)
    with atomic_write(path) as file:
        file.write(b"new")
    assert path.read_bytes() == b"new"
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_file_gets_the_usual_permissions(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_write(path) as file:
        file.write(b"new")
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path, error):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old content")
    with pytest.raises(type(error)):
        with atomic_write(path) as file:
            file.write(b"half of the new")
            raise error
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failed_first_write_creates_nothing(tmp_path):
    with pytest.raises(ValueError, match="bad"):
        with atomic_write(tmp_path / "out.bin") as file:
            file.write(b"x")
            raise ValueError("bad")
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_file_is_in_the_target_folder_and_synced(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    synced, replaced = [], []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        _atomic.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd)
    )
    monkeypatch.setattr(
        _atomic.os,
        "replace",
        lambda source, target: (
            replaced.append((source, target)) or real_replace(source, target)
        ),
    )
    with atomic_write(path) as file:
        file.write(b"new")
        (temporary,) = [p for p in tmp_path.iterdir() if p != path]
        # Hidden and not ending in the target's suffix: globs skip it.
        assert temporary.name.startswith(".out.bin.")
        assert temporary.suffix == ".tmp"
        assert not synced and not path.exists()
    ((source, target),) = replaced
    assert os.path.dirname(source) == str(tmp_path) and target == path
    # The file is synced before the rename, the folder after it (POSIX).
    assert len(synced) == (2 if os.name == "posix" else 1)


def test_a_failed_rename_leaves_the_target_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def failing_replace(source, target):
        raise PermissionError("read-only")

    monkeypatch.setattr(_atomic.os, "replace", failing_replace)
    with pytest.raises(PermissionError, match="read-only"):
        with atomic_write(path) as file:
            file.write(b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_an_uncreatable_temporary_file_names_the_target(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_atomic.os, "open", refused)
    with pytest.raises(PermissionError, match="Cannot write") as info:
        with atomic_write(tmp_path / "out.bin"):
            pytest.fail("the block must not run")  # pragma: no cover
    message = str(info.value)
    assert str(tmp_path / "out.bin") in message and "Permission denied" in message


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="POSIX folder permissions, which root bypasses",
)
def test_an_unwritable_folder_gives_a_clear_error(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "out.bin").write_bytes(b"old")
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="no temporary file can be created"):
            with atomic_write(folder / "out.bin") as file:
                file.write(b"new")  # pragma: no cover
        assert (folder / "out.bin").read_bytes() == b"old"
    finally:
        folder.chmod(0o700)


def test_a_missing_folder_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="Cannot write"):
        with atomic_write(tmp_path / "missing" / "out.bin"):
            pass  # pragma: no cover


def test_only_whole_file_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "out.bin", "ab"):
            pass  # pragma: no cover
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_in_a_subprocess_leaves_the_target(tmp_path):
    # A real SIGINT (not a raised KeyboardInterrupt) between write and rename.
    if os.name != "posix":
        pytest.skip("POSIX signals")
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    code = f"""
import os, signal
from sklearn_l3ae._core.atomic import atomic_write
# A background job inherits SIGINT ignored; Python's handler raises.
signal.signal(signal.SIGINT, signal.default_int_handler)
with atomic_write({str(path)!r}) as file:
    file.write(b"new")
    os.kill(os.getpid(), signal.SIGINT)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
