"""Writing a file so that a crash leaves the old version or the new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, text: str | bytes, *, private: bool = False) -> None:
    """Write `text` (UTF-8 when a str) to a temporary file beside `path`, fsync it, and
    rename it over `path` (the temporary file is named `.<name>.<random>.tmp`, so
    debris can be found).
    `private` files (they may hold secrets) are readable by their owner only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
