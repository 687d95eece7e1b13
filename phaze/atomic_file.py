"""Durable atomic file writes: a reader sees the old file or the whole new one, never a torn or empty one.

The text goes to a temporary file in the target's directory, is flushed and fsynced, then renamed over the
target (`os.replace`, atomic on POSIX), and the directory is fsynced so the rename itself survives a crash.
Without the first fsync a power loss after the rename can leave a zero-length file under the final name
(ext4 `data=ordered` with delayed allocation, XFS): the failure the cache's integrity check exists for.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically and durably (temp file, fsync, rename, fsync of the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a name no other process or thread picks; created with the umask's mode, as a plain open() would be
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Persist a rename in `directory` (POSIX; a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
