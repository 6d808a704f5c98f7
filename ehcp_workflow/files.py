"""Files the commands write and read, made safe at the edge of the program.

Written files can hold case data (case references, teams, caseworkers, dates), so every one is
*created* private (mode 0600) - never created with the umask's 0644 and narrowed afterwards, which
would leave a window in which another user can open it. :func:`private_file` writes a temporary
file that ``mkstemp`` creates 0600 beside the target and renames it over the target at the end:
a reader sees the old file or the whole new one, never half, and a crash leaves no partial output.
It refuses to write through a symbolic link (the link's target could be any file the user can
write: a shared folder, a config file) and into a folder that does not exist.

Read files must be regular files: a FIFO blocks a reader forever and a device such as
``/dev/zero`` never ends, so both are refused before they are opened, and so is a file larger
than :data:`MAX_INPUT_BYTES`.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

__all__ = [
    "MAX_INPUT_BYTES",
    "PRIVATE_MODE",
    "UnsafePath",
    "check_input",
    "check_output",
    "private_file",
]

#: Mode of every file a command writes that can hold case data.
PRIVATE_MODE = 0o600
#: Largest input read (bytes). A county's SEN2 return is ~100 MB; ``EHCP_MAX_INPUT_BYTES`` overrides.
MAX_INPUT_BYTES = 2 * 1024**3


class UnsafePath(Exception):
    """A path a command will not write or read; the message names the path and says what to do."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def check_output(path: Path, *, overwrite: bool = True) -> None:
    """Refuse ``path`` as an output: its folder is missing, it is a link or not a regular file.

    With ``overwrite=False`` an existing file is refused too. The check is repeated in effect by
    :func:`private_file`'s rename, which replaces a link planted later rather than following it.
    """
    parent = path.parent
    if not parent.is_dir():
        raise UnsafePath(path, f"the folder {parent} does not exist; create it first or choose another")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(
            path, "is a symbolic link; refusing to write through it (remove the link or choose another name)"
        )
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(path, "exists and is not a regular file; choose another name")
    if not overwrite:
        raise UnsafePath(path, "already exists; use --force to replace it, or choose another name")


@contextmanager
def private_file(
    path: Path | str,
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = "",
    overwrite: bool = True,
    buffering: int = -1,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing as a new 0600 file that replaces the target only when complete.

    ``mode`` is ``"w"`` (text, ``encoding``/``newline`` apply) or ``"wb"``. Raises
    :class:`UnsafePath` (see :func:`check_output`) before anything is written.
    """
    target = Path(path)
    check_output(target, overwrite=overwrite)
    # mkstemp: O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600 from the start (the umask can only narrow it)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        if "b" in mode:
            handle: IO[Any] = os.fdopen(fd, mode, buffering=buffering)
        else:
            handle = os.fdopen(fd, mode, buffering=buffering, encoding=encoding, newline=newline)
        with handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def max_input_bytes() -> int:
    """:data:`MAX_INPUT_BYTES`, or ``EHCP_MAX_INPUT_BYTES`` when set to a positive number."""
    value = os.environ.get("EHCP_MAX_INPUT_BYTES", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_INPUT_BYTES


def check_input(path: Path | str, *, limit: int | None = None) -> None:
    """Refuse ``path`` as an input unless it is a regular file (links followed) of bounded size.

    Checked without opening it: opening a FIFO blocks until someone writes to it.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise UnsafePath(p, f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnsafePath(p, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device or special file"
        raise UnsafePath(p, f"is {kind}, not a regular file; only regular files are read")
    bound = max_input_bytes() if limit is None else limit
    if st.st_size > bound:
        raise UnsafePath(
            p, f"is {st.st_size:,} bytes, more than the {bound:,} read (EHCP_MAX_INPUT_BYTES raises it)"
        )
