"""Bounded reading for the dataset loaders: never a device or a FIFO, never more bytes than the format allows.

* :func:`open_regular` opens a file only if it is a regular file (a symlink to ``/dev/zero`` or a FIFO
  named like a dataset file is refused before anything is read) no larger than a given size.
* :func:`read_all` reads such a file whole, at most the size it was allowed to have.
* :class:`GzipStream` decompresses gzip with zlib alone. ``gzip.GzipFile`` parses each member's header
  and skips zero padding one byte at a time in Python, so a few MB of padding or of empty members take
  seconds and 16 GiB take minutes; here headers are parsed in C, padding is skipped with ``bytes.lstrip``,
  and :meth:`GzipStream.limit_input` caps the compressed bytes still accepted once the data is complete.
* :class:`CappedReader` gives ``tarfile`` a forward-only view of a decompressed archive that refuses to
  go past a total size, or to read one record larger than a tar header can legitimately be.

Every refusal is a :class:`DatasetError` naming the file, what arrived and what was expected.
"""
from __future__ import annotations

import os
import stat
import zlib

from .._validation import file_kind
from .errors import DatasetError

__all__ = ["open_regular", "read_all", "GzipStream", "CappedReader", "describe_size"]

_CHUNK = 1 << 16
#: Empty gzip members in a row accepted before the stream is refused (real files have none).
_MAX_EMPTY_MEMBERS = 64


def describe_size(n: int) -> str:
    """``31035704`` -> ``'31035704 bytes (31.0 MB)'``."""
    return f"{n} bytes ({n / 1e6:.1f} MB)" if n >= 10**6 else f"{n} bytes"


def open_regular(path: str | os.PathLike, what: str, max_size: int | None = None, name: str | None = None):
    """Open ``path`` for binary reading if it is a regular file of at most ``max_size`` bytes.

    Parameters
    ----------
    path : path-like
        The file; a symlink is followed, and what it points to must be a regular file.
    what : str
        What the file should be, for messages ("an IDX file", "a CIFAR-10 batch file").
    max_size : int, optional
        Largest size accepted, in bytes.
    name : str, optional
        Name used in messages (default: the path).

    Returns
    -------
    (file, size) : an open binary file object and the file's size in bytes

    Raises
    ------
    DatasetError
        Missing, a folder, a device, FIFO or socket, larger than ``max_size``, or unreadable.
    """
    name = name or os.fspath(path)
    try:
        st = os.stat(path)  # no open(): opening a FIFO blocks, opening a device can have effects
        if not stat.S_ISREG(st.st_mode):
            raise DatasetError(f"is {file_kind(st.st_mode)}, expected {what} (a regular file)", path=name)
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() still returns at once
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise DatasetError("file not found", path=name) from None
    except OSError as exc:
        raise DatasetError(f"cannot open the file ({exc})", path=name) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DatasetError(f"is {file_kind(st.st_mode)}, expected {what} (a regular file)", path=name)
        if max_size is not None and st.st_size > max_size:
            raise DatasetError(f"the file holds {describe_size(st.st_size)}; {what} holds at most "
                               f"{describe_size(max_size)}", path=name)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_all(path: str | os.PathLike, what: str, max_size: int, name: str | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_size`` bytes (see :func:`open_regular`)."""
    name = name or os.fspath(path)
    f, size = open_regular(path, what, max_size, name)
    with f:
        try:
            data = f.read(size + 1)  # + 1: a file that grew since the stat is noticed
        except OSError as exc:
            raise DatasetError(f"cannot read the file ({exc})", path=name) from exc
    if len(data) > max_size:
        raise DatasetError(f"the file holds more than {describe_size(max_size)}; {what} holds at most "
                           f"{describe_size(max_size)}", path=name)
    return data


class GzipStream:
    """Read-only gzip decompression by zlib, member after member, through ``read(n)``.

    Accepts what ``gzip.GzipFile`` accepts (several members; zero bytes between and after members)
    and checks each member's CRC-32 and length. Raises ``zlib.error`` or ``EOFError`` on corrupt or
    truncated data, :class:`DatasetError` on more than a few empty members in a row or on input past
    :meth:`limit_input`.

    Parameters
    ----------
    raw : binary file object
        The compressed bytes (only ``read`` is used).
    name : str
        Name used in messages.
    """

    def __init__(self, raw, name: str):
        self._raw, self._name = raw, name
        self._d = zlib.decompressobj(31)  # 31: gzip header and trailer
        self._in = b""                     # compressed bytes not yet consumed by zlib
        self._in_member = True             # inside a member (else between members, or at the end)
        self._member_out = 0
        self._empty = 0
        self._consumed = 0
        self._limit = None
        self._limit_message = ""

    def limit_input(self, n: int, message: str):
        """From now on accept at most ``n`` more compressed bytes; beyond, raise DatasetError(message)."""
        self._limit, self._limit_message = self._consumed + n, message

    def _fill(self) -> bytes:
        want = _CHUNK if self._limit is None else min(_CHUNK, self._limit - self._consumed + 1)
        data = self._raw.read(want)
        self._consumed += len(data)
        if self._limit is not None and self._consumed > self._limit:
            raise DatasetError(self._limit_message, path=self._name)
        return data

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes (fewer only at the end of the stream)."""
        out = []
        got = 0
        while got < n:
            if not self._in:
                self._in = self._fill()
                if not self._in:
                    if self._in_member:
                        raise EOFError("compressed file ended before the end-of-stream marker was reached")
                    break
            if not self._in_member:
                self._in = self._in.lstrip(b"\x00")  # padding between or after members
                if not self._in:
                    continue
                self._d, self._in_member, self._member_out = zlib.decompressobj(31), True, 0
            chunk = self._d.decompress(self._in, n - got)
            if chunk:
                out.append(chunk)
                got += len(chunk)
                self._member_out += len(chunk)
            if self._d.eof:
                self._in, self._in_member = self._d.unused_data, False
                self._empty = 0 if self._member_out else self._empty + 1
                if self._empty > _MAX_EMPTY_MEMBERS:
                    raise DatasetError(f"more than {_MAX_EMPTY_MEMBERS} empty gzip members in a row: not "
                                       f"a compressed dataset file", path=self._name)
            else:
                self._in = self._d.unconsumed_tail
        return b"".join(out)


class CappedReader:
    """A forward-only, size-capped view of a (decompressed) stream, with ``read``, ``seek`` and ``tell``.

    ``tarfile.open(fileobj=CappedReader(...), mode="r:")`` then never reads past ``limit`` bytes of
    the decompressed archive (a seek past it is refused without decompressing anything), and never
    reads one record of more than ``max_read`` bytes: ``tarfile`` reads a PAX or GNU long-name header
    whole, whatever size its header declares.

    Parameters
    ----------
    stream : object with ``read(n)``
        The decompressed archive.
    limit : int
        Most bytes the archive may hold.
    max_read : int
        Largest single ``read`` served.
    name, what : str
        The file's name and what it should be, for messages.
    """

    def __init__(self, stream, limit: int, max_read: int, name: str, what: str):
        self._stream, self._limit, self._max_read = stream, limit, max_read
        self.name, self._what = name, what
        self._pos = 0

    def tell(self) -> int:
        return self._pos

    def _too_big(self) -> DatasetError:
        return DatasetError(f"the archive holds more than {describe_size(self._limit)} once decompressed; "
                            f"{self._what} holds at most that", path=self.name)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self._max_read:
            raise DatasetError(f"the archive asks for a record of {'unbounded' if n is None or n < 0 else n} "
                               f"bytes; {self._what} has no record over {describe_size(self._max_read)}",
                               path=self.name)
        allowed = min(n, self._limit - self._pos)
        data = self._stream.read(allowed) if allowed > 0 else b""
        self._pos += len(data)
        if len(data) == allowed < n and self._stream.read(1):
            raise self._too_big()
        return data

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            pos += self._pos
        elif whence != os.SEEK_SET:
            raise DatasetError("the archive reader cannot seek from the end", path=self.name)
        if pos < self._pos:
            raise DatasetError(f"the archive reader cannot go back (from byte {self._pos} to {pos})",
                               path=self.name)
        if pos > self._limit:
            raise self._too_big()
        while self._pos < pos:
            step = self._stream.read(min(1 << 20, pos - self._pos))
            if not step:
                break  # past the end: the next read returns b"", as for a file
            self._pos += len(step)
        return self._pos
