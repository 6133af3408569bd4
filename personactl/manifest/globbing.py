"""Finding a project's manifest files: its globs, matched on the file system.

Light on purpose (only the standard library, imported when used): `validate
FILE` runs this in a child forked before personactl's own imports (prescan.py),
while the parent imports the rest.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # (typing is not imported in the prescan child: prescan.py)
if TYPE_CHECKING:
    from collections.abc import Callable

YAML_SUFFIXES = (".yaml", ".yml")
PROJECT_FILE = "personactl.yaml"


def glob_stats(root: str, globs: list[str], project_file: str) -> dict[str, str] | None:
    """What glob_files finds, as absolute path strings with their stat key (size,
    mtime, ctime, inode: `stat_key`; a short string, not the whole stat, which would
    hold ten times the memory, and cost its page faults), found with
    `glob.glob` (cheaper than Path.glob, and no Path per file): None when a pattern
    is one whose meaning could differ between the two (absolute, `..`, two `**`, or
    ending in `**`, which pathlib reads as directories only). Like Path.glob, `**`
    does not descend into symlinked directories (glob.glob does: such paths are
    dropped). `project_file` (personactl.yaml) is never one of them."""
    import glob as globber
    import stat

    prefix = os.path.join(root, "")
    found: dict[str, str] = {}
    links: dict[str, bool] = {}
    folders: dict[str, int] = {}  # folder (relative) -> an open descriptor, for os.stat
    by_folder = os.stat in os.supports_dir_fd
    try:
        for pattern in globs:
            parts = pattern.replace("\\", "/").split("/")
            if (
                os.path.isabs(pattern)
                or ".." in parts
                or parts[-1] == "**"
                or "" in parts
                or "." in parts
                or parts.count("**") > 1
            ):
                return None
            if _scan(prefix, parts, found):
                continue
            # Directories `**` stands for: after `before` parts, and before the last `after`.
            before = parts.index("**") if "**" in parts else None
            after = len(parts) - 1 - before if before is not None else 0
            for rel in globber.glob(pattern, root_dir=root, recursive=True, include_hidden=True):
                if not rel.endswith(YAML_SUFFIXES):
                    continue
                if ".personactl" in rel and ".personactl" in rel.split(os.sep):
                    continue
                path = prefix + rel
                if path in found:
                    continue
                if before is not None:
                    names = rel.split(os.sep)
                    if len(names) - after > before and _through_link(
                        prefix, names, before, len(names) - after, links
                    ):
                        continue
                folder, _, name = rel.rpartition(os.sep)
                try:
                    # Relative to its folder: the kernel walks one name, not the whole path.
                    if not by_folder:
                        st = os.stat(path)
                    else:
                        fd = folders.get(folder)
                        if fd is None:
                            fd = os.open(prefix + folder, os.O_RDONLY | os.O_DIRECTORY)
                            folders[folder] = fd
                        st = os.stat(name, dir_fd=fd)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    found[path] = stat_key(st)
    finally:
        for fd in folders.values():
            os.close(fd)
    found.pop(os.path.join(root, project_file), None)
    return found


def _wild(part: str) -> bool:
    return "*" in part or "?" in part or "[" in part


def _ends_with(suffix: str) -> Callable[[str], bool]:
    return lambda name: name.endswith(suffix)


def stat_key(st: os.stat_result) -> str:
    """What a file's content cannot change without changing: size, mtime, ctime, inode."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _scan(prefix: str, parts: list[str], found: dict[str, str]) -> bool:
    """glob_stats for the usual patterns, DIR/.../**/NAME and DIR/.../NAME (no wildcard
    in a folder): a scandir per folder, NAME matched as fnmatch does, each match
    stat'ed relative to its folder. As Path.glob: `**` is the folder and every folder
    below it, symlinked ones not entered. False (nothing done) for another pattern."""
    import stat

    *folders, name = parts
    recursive = bool(folders) and folders[-1] == "**"
    if recursive:
        folders.pop()
    if any(_wild(f) for f in folders) or os.stat not in os.supports_dir_fd:
        return False
    match: Callable[[str], object]
    if name.startswith("*") and not _wild(name[1:]):
        match = _ends_with(name[1:])  # `*.yaml`, the usual: no regular expression to build
    else:
        import fnmatch
        import re

        match = re.compile(fnmatch.translate(name)).fullmatch
    at, is_file, suffixes, sep = os.stat, stat.S_ISREG, YAML_SUFFIXES, os.sep
    pending = [prefix + "".join(f + sep for f in folders)]
    while pending:
        folder = pending.pop()
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            with os.scandir(fd) as entries:
                if recursive:
                    listed = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
                    names = [n for n, _ in listed]
                    pending += [folder + n + sep for n, d in listed if d and n != ".personactl"]
                else:
                    names = [e.name for e in entries]
            if ".personactl" in folder[len(prefix) :].split(sep):
                continue  # (a folder named in the pattern: `**` never enters one)
            # Each match stat'ed relative to its folder: the kernel walks one name.
            for entry in [n for n in names if n.endswith(suffixes) and match(n)]:
                path = folder + entry
                if path in found:
                    continue
                try:
                    st = at(entry, dir_fd=fd)
                except OSError:
                    continue
                if is_file(st.st_mode):
                    found[path] = stat_key(st)
        finally:
            os.close(fd)
    return True


def _through_link(
    prefix: str, names: list[str], start: int, end: int, links: dict[str, bool]
) -> bool:
    """Whether any of the directories names[:start+1] ... names[:end] is a symlink."""
    for i in range(start + 1, end + 1):
        folder = prefix + os.sep.join(names[:i])
        if folder not in links:
            links[folder] = os.path.islink(folder)
        if links[folder]:
            return True
    return False
