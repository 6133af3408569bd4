"""`validate FILE` in a big project: survey the other files while personactl starts.

Checking one file against a 10,000-file project needs a `stat` of every other
manifest (is its index entry still true?), which costs about as much as
personactl's start-up. So the console script forks a child right at the start,
before the heavy imports: it finds the project above the first file named,
reads the index (manifest/index.py), matches the globs recorded there, stats
every file and sorts them (index.survey). The parent imports, parses
personactl.yaml and the named files meanwhile, then takes the survey if it is
for the same root and the same globs; otherwise (or if the child failed) it
surveys the project itself, as it always did. Either way the result is the
same: the child only does earlier, on the other core, what the parent would do.

Only where forking is safe and pays: Linux, one thread, two cores or more, and
not with PERSONACTL_READ_PROCESSES=1. The child imports nothing of personactl
but the index and the globbing, and leaves with os._exit.
"""

from __future__ import annotations

import os
import sys

from personactl.manifest import index
from personactl.manifest.globbing import PROJECT_FILE, YAML_SUFFIXES

TYPE_CHECKING = False  # not typing's: it is not imported before the fork
if TYPE_CHECKING:
    from personactl.manifest.index import Survey

ENV = "PERSONACTL_READ_PROCESSES"

_child: tuple[int, int] | None = None  # (pid, read end of its pipe)


def start(paths: list[str]) -> None:
    """Fork the child for the project of the first YAML file in `paths` (relative to
    the working directory), when it is worth it: the project has an index."""
    global _child
    files = [os.path.abspath(p) for p in paths if p.endswith(YAML_SUFFIXES)]
    if _child is not None or not files or not _worth_it():
        return
    root = _project_root(files[0])
    if root is None or not os.path.isfile(index.index_path(root)):
        return
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: survey, send, and leave without running any exit handler
        try:
            # Not holding the caller's pipes open (`validate … | cat` ends with the parent).
            os.closerange(0, 3)
            os.close(readable)
            data = _survey(root, files)
            with os.fdopen(writable, "wb") as out:
                out.write(data)
        except BaseException:  # noqa: BLE001 - the parent surveys the project itself
            pass
        os._exit(0)
    os.close(writable)
    _child = (pid, readable)


def _project_root(path: str) -> str | None:
    """The nearest folder above `path` holding personactl.yaml, its symlinks resolved
    (as the loader's project root is)."""
    folder = os.path.dirname(path)
    while not os.path.isfile(os.path.join(folder, PROJECT_FILE)):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    return os.path.realpath(folder)


def take(root: str, globs: list[str], stamp: str | None) -> Survey | None:
    """The child's survey when it is of this root, these globs and the writing of the
    index this process read (`stamp`); None otherwise (no child, it failed, or it
    surveyed another project or index). Reaps the child."""
    global _child
    if _child is None:
        return None
    pid, readable = _child
    _child = None
    try:
        with os.fdopen(readable, "rb") as pipe:
            data = pipe.read()
    finally:
        os.waitpid(pid, 0)
    try:
        found = index.Survey.undump(data) if data else None
    except (ValueError, TypeError, EOFError):
        return None
    if found is None or (found.root, found.globs, found.stamp) != (root, globs, stamp):
        return None
    return found


def _worth_it() -> bool:
    threading = sys.modules.get("threading")  # not imported: no thread but this one
    if sys.platform != "linux" or (threading is not None and threading.active_count() != 1):
        return False
    try:
        wanted = int(os.environ.get(ENV) or len(os.sched_getaffinity(0)))
    except (OSError, ValueError):
        return False
    return wanted > 1


def _survey(root: str, files: list[str]) -> bytes:
    """The survey of the project at `root`, dumped; b"" when there is none to make (no
    index, or globs the fast search leaves to pathlib)."""
    from personactl.manifest import globbing

    recorded = index.load(root, views=False)
    if recorded is None:
        return b""
    found = globbing.glob_stats(root, recorded.globs, PROJECT_FILE)
    if found is None:
        return b""
    return index.survey(root, recorded, found, files).dump()
