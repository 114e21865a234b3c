"""Reading inputs and writing outputs safely: the one place every command and API goes through for files.

What it guarantees:

* an input must exist, be readable and be a regular file (or, where asked, a directory); a FIFO, device or
  socket is refused at once instead of blocking the process;
* an output is written through a temporary file in its own directory and renamed into place only when the whole
  content is written, so a failure never leaves a half-written file; the new file gets the permissions a plain
  ``open()`` would give it (not ``mkstemp``'s 0600), or keeps those of the file it replaces;
* an output is never one of the inputs: not the same path, not the same file through a symlink or hard link, and
  not a file inside an input directory (a SavedModel), checked before anything is read or written;
* an output that exists must be a regular file; a directory, FIFO or device in its place is refused.

Every failure is an :class:`~liteconvert.errors.ConversionError` subclass with one line naming the problem and
the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from .errors import InputError, OutputError, SourceNotFoundError

PathLike = str | os.PathLike[str]


def _reason(e: OSError) -> str:
    return (e.strerror or type(e).__name__).lower()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_input(path: PathLike, what: str = "model", directory: bool | None = False) -> os.stat_result:
    """``path`` exists and is what is expected: a regular file (``directory=False``), a directory (``True``),
    or either (``None``). Returns its ``stat``. Never opens the path, so a FIFO cannot block."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceNotFoundError(f"{what} not found: {path}. Fix: check the path.") from None
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {_reason(e)}. Fix: check the path and its "
                         "permissions.") from None
    is_dir = stat.S_ISDIR(st.st_mode)
    if directory is True and not is_dir:
        raise InputError(f"{what} {path} is {'a file' if stat.S_ISREG(st.st_mode) else _kind(st.st_mode)}, not a "
                         "directory. Fix: pass the directory itself.")
    if directory is False and is_dir:
        raise InputError(f"{what} {path} is a directory, not a file. Fix: pass the file itself.")
    if not is_dir and not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} {path} is {_kind(st.st_mode)}, not a regular file. Fix: pass a regular file "
                         "(copy the data into one first).")
    if not os.access(path, os.R_OK | (os.X_OK if is_dir else 0)):
        raise InputError(f"cannot read {what} {path}: permission denied. Fix: check its permissions "
                         f"(chmod u+r{'x' if is_dir else ''}).")
    return st


@contextlib.contextmanager
def open_input(path: PathLike, what: str = "model") -> Iterator[BinaryIO]:
    """Open a regular file for reading; refuses anything else without blocking (``O_NONBLOCK`` and a check
    of the opened descriptor, so a FIFO swapped in after :func:`check_input` cannot block either)."""
    path = os.fspath(path)
    check_input(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {_reason(e)}. Fix: check the path and its "
                         "permissions.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{what} {path} is {_kind(st.st_mode)}, not a regular file. Fix: pass a regular "
                             "file.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_input(path: PathLike, what: str = "file", limit: int | None = None) -> bytes:
    """The whole content of a regular file, refusing files over ``limit`` bytes."""
    with open_input(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            raise InputError(f"{what} {os.fspath(path)} is {size:,} bytes, more than the {limit:,} this reads. "
                             "Fix: pass the right file.")
        try:
            return f.read()
        except OSError as e:
            raise InputError(f"cannot read {what} {os.fspath(path)}: {_reason(e)}. Fix: check the file.") from None


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _inside(path: str, directory: str) -> bool:
    """``path`` (which need not exist) lies inside ``directory``, after resolving symlinks."""
    d = os.path.realpath(directory)
    p = os.path.realpath(path)
    try:
        return os.path.commonpath([d, p]) == d
    except ValueError:  # different drives
        return False


def check_output(path: PathLike, inputs: Iterable[PathLike] = (), what: str = "output") -> str:
    """Check, before any work, that ``path`` can be written and is none of ``inputs``. Returns the path.

    Refused: an output that is an input (the same path, or the same file through a symlink or a hard link); a
    file inside an input directory; an existing directory, FIFO, device or socket; a missing or read-only output
    directory.
    """
    path = os.fspath(path)
    if not path:
        raise OutputError(f"the {what} path is empty. Fix: give a file name such as model.tflite.")
    if path.endswith(("/", os.sep)):
        raise OutputError(f"the {what} path {path} names a directory. Fix: give a file name such as "
                          f"{os.path.join(path, 'model.tflite')}.")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(f"cannot write {what} {path}: {_reason(e)}. Fix: choose another path.") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        fix = (f"give a file name inside it, such as {os.path.join(path, 'model.tflite')}"
               if stat.S_ISDIR(st.st_mode) else "give the path of a regular file")
        raise OutputError(f"the {what} {path} is {_kind(st.st_mode)}. Fix: {fix}.")
    for src in inputs:
        src = os.fspath(src)
        try:
            sst = os.stat(src)
        except OSError:
            continue
        if stat.S_ISDIR(sst.st_mode):
            if _inside(path, src):
                raise OutputError(f"the {what} {path} lies inside the input directory {src}; writing it would "
                                  "change the input. Fix: write the output outside that directory.")
        elif (st is not None and _same(st, sst)) or os.path.realpath(path) == os.path.realpath(src):
            raise OutputError(f"the {what} {path} is the input {src} itself; writing it would destroy the input. "
                              "Fix: give another output path (-o OUT.tflite).")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError(f"output directory does not exist: {directory}. Fix: create it first.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} {path}: the directory {directory} is not writable. Fix: choose a "
                          "directory you can write to, or change its permissions.")
    return path


def _new_file_mode(replaced: str) -> int:
    """The mode ``open(path, "w")`` would give a new file (0666 less the umask), or the replaced file's mode."""
    try:
        return stat.S_IMODE(os.stat(replaced).st_mode)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(path: PathLike, inputs: Iterable[PathLike] = ()) -> Iterator[BinaryIO]:
    """A file to write ``path``'s new contents to: a temporary file in the same directory, renamed into place
    when the block ends without error and deleted otherwise, so a failure never leaves a half-written file.

    ``inputs`` are checked not to be the output (see :func:`check_output`), again just before the rename.
    ``f.name`` is the temporary file's path: the block may check what it wrote (raising drops it).
    """
    inputs = [os.fspath(i) for i in inputs]
    path = check_output(path, inputs)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".liteconvert-", suffix=".tmp", dir=directory)
    except OSError as e:
        raise OutputError(f"cannot write to {directory}: {_reason(e)}. Fix: choose a directory you can write "
                          "to.") from None
    try:
        try:
            os.fchmod(fd, _new_file_mode(path))
        except OSError:
            pass
        os.close(fd)
        with open(tmp, "wb") as f:  # (by name: f.name is the temporary file, which the block may read back)
            yield f
        check_output(path, inputs)  # nothing became the input while we wrote
        os.replace(tmp, path)
    except OSError as e:
        _unlink(tmp)
        if e.errno in {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}:
            raise OutputError(f"cannot write {path}: the disk is full. Fix: free some space or write elsewhere; "
                              "nothing was written.") from None
        raise OutputError(f"cannot write {path}: {_reason(e)}. Fix: check the path and its directory; nothing "
                          "was written.") from None
    except BaseException:
        _unlink(tmp)
        raise


def write_atomic(path: PathLike, data: bytes | bytearray | memoryview, inputs: Iterable[PathLike] = ()) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_output`."""
    with atomic_output(path, inputs) as f:
        f.write(data)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
