"""Reading a large project's manifests on more than one core.

Parsing YAML is most of the load stage, and it holds the GIL: threads cannot
share it. For a project of MIN_SHARE files or more per extra core, the files
are cut into consecutive shares; forked children each parse one share and send
back what they read (pickled, through a pipe) while this process parses the
first. The results are put back in file order, so everything after the load
sees exactly what reading the files one by one gives.

Only where forking is safe and cheap: Linux, and a process with one thread (a
child forked beside other threads can deadlock on a lock one of them held).
A child that fails in any way (killed, a pickling error) costs nothing but
time: its share is read here. `PERSONACTL_READ_PROCESSES` sets how many
processes may read (default: the cores this process may run on; 1 turns it off).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

MIN_SHARE = 400  # files per process, below which a fork costs more than it saves
ENV = "PERSONACTL_READ_PROCESSES"


def processes(files: int) -> int:
    """How many processes (this one included) should read `files` files."""
    if sys.platform != "linux" or threading.active_count() != 1:
        return 1
    try:
        wanted = int(os.environ.get(ENV) or len(os.sched_getaffinity(0)))
    except (OSError, ValueError):
        return 1
    return max(1, min(wanted, files // MIN_SHARE))


def read_all(paths: list[Path], read: Callable[[Path], T]) -> list[T]:
    """`[read(p) for p in paths]`, on several processes when that is worth it."""
    count = processes(len(paths))
    if count == 1:
        return [read(p) for p in paths]
    size = -(-len(paths) // count)
    shares = [paths[i : i + size] for i in range(0, len(paths), size)]
    children: list[tuple[int, int, list[Path]]] = []
    try:
        for share in shares[1:]:
            children.append(_fork(share, read))
        results = [read(p) for p in shares[0]]
        for pid, fd, share in children:
            results.extend(_collect(pid, fd, share, read))
        children = []
        return results
    finally:
        for pid, fd, _ in children:  # interrupted: leave no child behind
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def _fork(share: list[Path], read: Callable[[Path], T]) -> tuple[int, int, list[Path]]:
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, send, and leave without running any exit handler
        code = 1
        try:
            os.close(readable)
            data = pickle.dumps([read(p) for p in share], protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writable, "wb") as out:
                out.write(data)
            code = 0
        except BaseException:  # noqa: BLE001 - the parent reads this share itself
            pass
        os._exit(code)
    os.close(writable)
    return pid, readable, share


def _collect(pid: int, fd: int, share: list[Path], read: Callable[[Path], T]) -> list[T]:
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        try:
            got = pickle.loads(data)  # noqa: S301 - our own child's bytes, through a pipe
        except Exception:  # noqa: BLE001 - read the share here instead
            got = None
        if isinstance(got, list) and len(got) == len(share):
            return got
    return [read(p) for p in share]
