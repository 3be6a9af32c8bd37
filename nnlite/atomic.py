"""Files that are never half-written, and run folders that one process owns at a time.

Atomic writes
-------------
:func:`atomic_write` writes to a temporary file in the destination folder, flushes and ``fsync``\\ s
it, renames it over the destination with :func:`os.replace` (atomic on POSIX and Windows) and syncs the
folder. A crash or ``SIGKILL`` at any moment leaves either the old file or the new one. The new file
gets the permissions an ordinary ``open(path, "w")`` would give (``0o666`` less the umask), not the
``0o600`` of a temporary file.

A temporary file is named ``.<name>.<pid>.<random>.tmp``. After a successful write, the temporaries
of the same destination left by processes that no longer exist (killed mid-write) are removed; those
of a live process, possibly writing right now, are left alone.

Run folders
-----------
:class:`RunLock` holds an exclusive ``fcntl.flock`` on ``<folder>/.nnlite.lock`` (which records the
holder's PID) for as long as a training run writes checkpoints there. A second process that tries to
write into the same folder gets :class:`RunFolderBusyError` naming the folder and the holder. The
operating system drops the lock when the holder exits, however it exits. Within one process the lock
is re-entrant (a run that saves checkpoints from several callbacks takes it once).
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, the folder is not locked
    fcntl = None

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "RunLock", "RunFolderBusyError",
           "LOCK_NAME"]

LOCK_NAME = ".nnlite.lock"
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def _fsync_dir(folder: Path):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened; os.replace is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return True
    return True


def atomic_write(path, write) -> Path:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, fsync it and rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)
    remove_stale_temporaries(path)
    return path


def remove_stale_temporaries(path) -> list[Path]:
    """Remove the temporaries of ``path`` whose writing process is gone; return what was removed."""
    path = Path(path)
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        match = _TEMPORARY.match(candidate.name)
        if match is None or match["name"] != path.name or _process_exists(int(match["pid"])):
            continue
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass
    return removed


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename)."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (temporary file + fsync + rename)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class RunFolderBusyError(RuntimeError):
    """Another live process is writing into this run folder. ``folder`` and ``pid`` say which."""

    def __init__(self, folder, pid):
        self.folder, self.pid = str(folder), pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"{folder} is in use by another nnlite run ({holder} holds {Path(folder) / LOCK_NAME}); "
                         "wait for it to finish, or write into another folder")


_held: dict[str, list] = {}      # real folder path -> [file descriptor, count] of the locks this process holds
_held_guard = threading.Lock()


class RunLock:
    """``with RunLock(folder): ...`` -- this process is the only writer of ``folder`` until the block ends.

    Raises :class:`RunFolderBusyError` at once (no waiting) when another live process holds the folder.
    ``acquire()`` / ``release()`` do the same without a ``with`` block.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self._acquired = False

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def acquire(self) -> RunLock:
        if self._acquired:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        key = os.path.realpath(self.folder)
        with _held_guard:
            if key in _held:
                _held[key][1] += 1
                self._acquired = True
                return self
            if fcntl is None:  # pragma: no cover
                _held[key] = [None, 1]
                self._acquired = True
                return self
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = _read_pid(fd)
                os.close(fd)
                raise RunFolderBusyError(self.folder, pid) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held[key] = [fd, 1]
            self._acquired = True
        return self

    def release(self):
        if not self._acquired:
            return
        self._acquired = False
        key = os.path.realpath(self.folder)
        with _held_guard:
            entry = _held.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                if entry[0] is not None:
                    os.close(entry[0])  # closing the descriptor drops the flock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read_pid(fd) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
