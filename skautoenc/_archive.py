"""The file container: a zip archive of one JSON member and ``.npy`` arrays, with limits.

Arrays are stored uncompressed, so a file can only make ``load`` allocate as much
as it holds: every member's declared size is checked against the archive's size,
every ``.npy`` header against the shape and dtype the caller expects, before any
array is read. The JSON member is decompressed in a stream with a size cap. No
pickle is involved anywhere. Writes to a path are atomic.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import stat
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

# JSON members are refused beyond this size (uncompressed)...
MAX_JSON_BYTES = 16 * 1024 * 1024
# ... and beyond this many times the file's size, above a floor. Parsed JSON costs
# up to ~25 bytes of Python objects per byte ("[]," is a 56-byte list), and deflate
# shrinks such text a thousandfold: without this, a 16 KB file parses into 380 MB.
# Real documents (numbers, names) compress a few times, so they always fit.
_JSON_BYTES_PER_FILE_BYTE = 16
_MIN_JSON_LIMIT = 1024 * 1024
# Largest .npy header accepted (NumPy writes 128 bytes for a small array).
_MAX_NPY_HEADER = 4096
# Temporary files of a save: in the target's folder, under this prefix.
TEMP_PREFIX = ".skautoenc-"
TEMP_SUFFIX = ".tmp"
# A temporary file unlocked and untouched this long belongs to a save that died.
_STALE_SECONDS = 60
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class UnsafeFileError(ValueError):
    """A file refused by :func:`skautoenc.load`: not a skautoenc file, damaged, or
    holding something the estimator's parameters do not justify.

    A ``ValueError``, so existing ``except ValueError`` handlers still catch it.
    """


# --------------------------------------------------------------------- write
def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array, order="C"), allow_pickle=False)
    return buffer.getvalue()


def write_archive(target, json_member: str, document: dict, arrays: dict[str, np.ndarray]):
    """Write the archive to a path (atomically) or to a binary file object."""
    members = [(json_member, json.dumps(document, indent=1).encode(), zipfile.ZIP_DEFLATED)]
    members += [(name, npy_bytes(array), zipfile.ZIP_STORED) for name, array in arrays.items()]
    if hasattr(target, "write"):
        _write_zip(target, members)
        return
    _write_atomically(os.fspath(target), members)


def _write_zip(file, members) -> None:
    with zipfile.ZipFile(file, "w") as archive:
        for name, data, compression in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


def _write_atomically(path: str, members) -> None:
    """Write next to the real target, then rename over it.

    Symbolic links are followed (the link stays, its target is replaced), an
    existing file keeps its permission bits, and a new one gets those ``open``
    would give it. The temporary file has a fixed prefix and is locked while
    written, so that the next save in that folder removes any left by a save that
    was killed.
    """
    real = os.path.realpath(path)
    folder = os.path.dirname(real) or "."
    _remove_stale_temporaries(folder)
    temporary = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(6)}{TEMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)  # the umask decides, as for open()
    try:
        with os.fdopen(descriptor, "wb") as file:
            _lock(file)
            _write_zip(file, members)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(real).st_mode))
        os.replace(temporary, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _lock(file) -> bool:
    """Lock ``file`` exclusively without waiting; False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; stale files stay
        return False
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _remove_stale_temporaries(folder: str) -> None:
    """Delete temporaries of saves that died: ours, unlocked, untouched for a while."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX)):
                continue
            if not entry.is_file(follow_symlinks=False):  # opening a FIFO would block
                continue
            with contextlib.suppress(OSError), open(entry.path, "rb") as file:
                if now - os.fstat(file.fileno()).st_mtime > _STALE_SECONDS and _lock(file):
                    os.unlink(entry.path)


# ---------------------------------------------------------------------- read
class ArchiveReader:
    """Checked reads from an open archive; every refusal is an ``UnsafeFileError``."""

    def __init__(self, archive: zipfile.ZipFile, size: int, shown: str):
        self.archive, self.size, self.shown = archive, size, shown
        infos = archive.infolist()
        self.names = [info.filename for info in infos]
        if len(set(self.names)) != len(self.names):
            self.refuse("it has duplicate members.", "each member once", self.names)
        declared = sum(info.compress_size for info in infos)
        if declared > size:
            self.refuse(
                "its members declare more bytes than the file holds.",
                f"at most {size} bytes",
                f"{declared} bytes",
            )

    def refuse(self, problem: str, expected: Any, received: Any, cause=None):
        raise UnsafeFileError(
            f"Cannot load {self.shown}: {problem} Expected: {expected}. Received: {received}."
        ) from cause

    def read_json(self, name: str) -> Any:
        info = self.archive.getinfo(name)
        limit = min(MAX_JSON_BYTES, max(_MIN_JSON_LIMIT, _JSON_BYTES_PER_FILE_BYTE * self.size))
        if info.file_size > limit:
            self.refuse(f"member {name!r} is too large.", f"<= {limit} bytes", info.file_size)
        data = self._read(info, limit)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            self.refuse(
                f"member {name!r} is not valid UTF-8 JSON ({type(error).__name__}).",
                "a JSON document",
                f"{len(data)} bytes starting with {data[:32]!r}",
                cause=error,
            )

    def read_array(
        self, name: str, shape: tuple, dtypes: tuple[str, ...], *, infinite_ok: bool = False
    ) -> np.ndarray:
        """A stored ``.npy`` member of exactly ``shape`` and one of ``dtypes``.

        Its float values must be finite (``infinite_ok``: not NaN).
        """
        info = self.archive.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            self.refuse(f"array {name!r} is compressed.", "stored arrays", info.compress_type)
        header = self._read(info, min(info.file_size, _MAX_NPY_HEADER))
        stream = io.BytesIO(header)
        try:
            version = np.lib.format.read_magic(stream)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }[version]
            found_shape, fortran, dtype = read_header(stream, max_header_size=_MAX_NPY_HEADER)
        except (ValueError, KeyError, EOFError) as error:
            self.refuse(f"array {name!r} has no valid .npy header.", ".npy", repr(error), error)
        expected = f"shape {tuple(shape)} and dtype {' or '.join(dtypes)}"
        if found_shape != tuple(shape) or dtype.str.lstrip("<|") not in {
            np.dtype(d).str.lstrip("<|") for d in dtypes
        }:
            self.refuse(
                f"array {name!r} does not have the shape and dtype its parameters imply.",
                expected,
                f"shape {found_shape} and dtype {dtype}",
            )
        offset = stream.tell()
        n_bytes = math.prod(shape) * dtype.itemsize  # Python ints: no int64 wrap-around
        if info.file_size != offset + n_bytes or fortran:
            self.refuse(
                f"array {name!r} does not hold the bytes its header declares.",
                f"{offset + n_bytes} bytes in C order",
                f"{info.file_size} bytes",
            )
        data = self._read(info, info.file_size)[offset:]
        array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        bad = np.isnan(array) if infinite_ok else ~np.isfinite(array)
        if array.dtype.kind == "f" and bad.any():
            self.refuse(f"array {name!r} holds NaN or infinite values.", "finite values", "NaN/inf")
        return array

    def _read(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        try:
            with self.archive.open(info) as member:
                return member.read(limit)
        except Exception as error:  # a bad checksum, a broken deflate stream, ...
            self.refuse(
                f"member {info.filename!r} is corrupted or truncated.",
                "a member that reads back with a valid checksum",
                f"{type(error).__name__}: {error}",
                cause=error,
            )


@contextlib.contextmanager
def open_archive(source, shown: str) -> Iterator[ArchiveReader]:
    """Open a path (a regular file, links followed) or a binary file object."""
    with contextlib.ExitStack() as stack:
        if hasattr(source, "read"):
            file = source
            if not (hasattr(file, "seekable") and file.seekable()):
                file = io.BytesIO(file.read())
            start = file.tell()
            size = file.seek(0, io.SEEK_END) - start
            file.seek(start)
        else:
            # Non-blocking, so that opening a FIFO returns (and is refused below)
            # instead of waiting for a writer; regular files read as usual.
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            file = stack.enter_context(open(os.open(source, flags), "rb"))
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise UnsafeFileError(
                    f"Cannot load {shown}: it is not a regular file. Expected: a file "
                    f"written by AutoencoderTransformer.save. Received: file mode "
                    f"{stat.filemode(status.st_mode)}."
                )
            size = status.st_size
        try:
            archive = stack.enter_context(zipfile.ZipFile(file))
        except Exception as error:  # zipfile, zlib, struct: anything unparseable
            raise UnsafeFileError(
                f"Cannot load {shown}: it is not a zip archive, or is truncated or "
                "corrupted. Expected: a file written by AutoencoderTransformer.save. "
                f"Received: {type(error).__name__}: {error}."
            ) from error
        yield ArchiveReader(archive, size, shown)
