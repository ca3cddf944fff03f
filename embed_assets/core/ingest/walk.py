"""The walk of a collection folder: every entry met once, nothing outside the folder.

The collection folder is resolved to its real path first (it may itself be a symbolic
link); from there the walk never leaves it:

- Folders are listed through a descriptor opened with ``O_NOFOLLOW``; after opening, the
  descriptor must still be the folder that was listed (device and inode) and its real
  path (``/proc/self/fd``) must lie inside the collection, so a parent swapped for a link
  between two steps leads nowhere.
- A symbolic link is resolved, never walked through: a target outside the collection is
  a ``symlink_outside`` skip, a missing one ``dangling_symlink``, a cycle of links or a
  link to a folder that contains it ``symlink_loop``. A target inside is met at most once:
  the real entries are walked first, links afterwards, and a file or folder already met
  under another path is a ``duplicate_file`` / ``duplicate_folder`` skip.
- The walk is iterative and stops ``max_folder_depth`` folders down (``folder_too_deep``).
- FIFOs, sockets and devices are ``special_file`` skips and are never opened; hidden
  entries (a leading dot) are ``hidden`` skips and never read; names that are not UTF-8
  are ``undecodable_name`` skips. Every skip's path is printable (odd bytes escaped).

Hard links cannot be told apart from the file they link to: a hard link is the file, and
whoever can make one inside the collection folder has put that file in the collection.
Two paths to the same inode inside the collection are read once (``duplicate_file``).
"""

from __future__ import annotations

import errno
import heapq
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .documents import ReadLimits, SkipReason

# Marks a collection folder that `eval` created: the only kind it may write into.
EVAL_MARKER = ".embed_assets-eval.json"
# Files and folders a labelled BEIR folder carries beside its corpus (and the marker eval
# leaves there); they are not documents, and not skips either.
EVALUATION_FILES = {"queries.jsonl", EVAL_MARKER}
EVALUATION_DIRS = {"qrels"}
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SPECIAL = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
            (stat.S_ISBLK, "block device"))


@dataclass(frozen=True)
class InputFile:
    """A regular file to read: ``rel`` names it (relative to the collection, posix, printable);
    ``real`` is where it is, always inside the collection's real path."""

    rel: str
    real: str
    dev: int
    ino: int
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.rel.rpartition("/")[2]

    @property
    def folder(self) -> str:
        return self.rel.rpartition("/")[0]


@dataclass(frozen=True)
class WalkSkip:
    rel: str
    reason: SkipReason
    detail: str


@dataclass(frozen=True)
class Walk:
    root: str
    entries: list[InputFile | WalkSkip]


def os_error(exc: OSError) -> str:
    """An OS error in words without its path: ``PermissionError (EACCES)``."""
    return f"{type(exc).__name__} ({errno.errorcode.get(exc.errno or 0, exc.errno)})"


def is_inside(path: str, root: str) -> bool:
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path == root or path.startswith(prefix)


def fd_path(fd: int) -> str | None:
    """Where an open descriptor really is, from ``/proc/self/fd`` (None where there is no /proc)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def undecodable(name: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in name)


def printable(name: str) -> str:
    """``name`` as printable, JSON-safe text: bytes that are not UTF-8 as ``\\xNN``, control
    and other invisible characters as escapes."""
    if name.isprintable():
        return name
    if undecodable(name):
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)


def order(rel: str) -> tuple[str, ...]:
    """Sort key: part by part, so a folder's files come right after the folder's name."""
    return tuple(rel.split("/"))


def special_kind(mode: int) -> str:
    return next((name for test, name in _SPECIAL if test(mode)), "special file")


@dataclass
class _Folder:
    real: str
    rel: str
    depth: int
    key: tuple[int, int]


@dataclass
class _Walker:
    root: str
    max_depth: int
    entries: list[InputFile | WalkSkip] = field(default_factory=list)
    folders: dict[tuple[int, int], str] = field(default_factory=dict)
    files: dict[tuple[int, int], str] = field(default_factory=dict)
    pending: list[_Folder] = field(default_factory=list)
    links: list[tuple[tuple[str, ...], str, str, str, int]] = field(default_factory=list)

    def run(self, top: _Folder) -> list[InputFile | WalkSkip]:
        self.folders[top.key] = "."
        self.pending.append(top)
        while self.pending or self.links:
            while self.pending:
                self._list(self.pending.pop())
            if self.links:  # the smallest path first, so the same tree always walks the same way
                _, rel, link, parent, depth = heapq.heappop(self.links)
                self._follow(rel, link, parent, depth)
        return sorted(self.entries, key=lambda e: order(e.rel))

    def _skip(self, rel: str, reason: SkipReason, detail: str) -> None:
        self.entries.append(WalkSkip(rel=rel, reason=reason, detail=detail))

    def _list(self, folder: _Folder) -> None:
        where = folder.rel or "."
        try:
            fd = os.open(folder.real, _FOLDER_FLAGS)
        except OSError as exc:
            reason = SkipReason.CHANGED_WHILE_READING if exc.errno == errno.ELOOP else SkipReason.UNREADABLE
            self._skip(where, reason, f"folder: {os_error(exc)}")
            return
        try:
            st = os.fstat(fd)
            real = fd_path(fd)
            if (st.st_dev, st.st_ino) != folder.key:
                self._skip(where, SkipReason.CHANGED_WHILE_READING, "the folder was replaced while walking")
                return
            if real is not None and not is_inside(real, self.root):
                self._skip(where, SkipReason.SYMLINK_OUTSIDE, "the folder's path led outside the collection")
                return
            listing = _listing(fd)
        except OSError as exc:
            self._skip(where, SkipReason.UNREADABLE, f"folder: {os_error(exc)}")
            return
        finally:
            os.close(fd)
        children = [child for name, st_or_error in listing
                    if (child := self._entry(folder, name, st_or_error)) is not None]
        self.pending.extend(reversed(children))

    def _entry(self, folder: _Folder, name: str, st: os.stat_result | OSError) -> _Folder | None:
        rel = f"{folder.rel}/{printable(name)}" if folder.rel else printable(name)
        real = os.path.join(folder.real, name)
        if not folder.rel and name in EVALUATION_FILES | EVALUATION_DIRS:
            return None  # the labels of a BEIR folder: read by the quality gate, not documents
        if undecodable(name):
            self._skip(rel, SkipReason.UNDECODABLE_NAME, "the name has bytes that are not UTF-8")
        elif name.startswith("."):
            self._skip(rel, SkipReason.HIDDEN, "hidden entries are not read")
        elif isinstance(st, OSError):
            self._skip(rel, SkipReason.UNREADABLE, os_error(st))
        elif stat.S_ISLNK(st.st_mode):
            heapq.heappush(self.links, (order(rel), rel, real, folder.real, folder.depth + 1))
        elif stat.S_ISDIR(st.st_mode):
            return self._folder(real, rel, folder.depth + 1, st)
        elif stat.S_ISREG(st.st_mode):
            self._file(rel, real, st)
        else:
            self._skip(rel, SkipReason.SPECIAL_FILE, f"a {special_kind(st.st_mode)}; never opened")
        return None

    def _folder(self, real: str, rel: str, depth: int, st: os.stat_result) -> _Folder | None:
        key = (st.st_dev, st.st_ino)
        if key in self.folders:
            self._skip(rel, SkipReason.DUPLICATE_FOLDER, f"the same folder as {self.folders[key]}")
        elif depth > self.max_depth:
            self._skip(rel, SkipReason.FOLDER_TOO_DEEP, f"more than {self.max_depth} folders deep; not walked")
        else:
            self.folders[key] = rel
            return _Folder(real=real, rel=rel, depth=depth, key=key)
        return None

    def _file(self, rel: str, real: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in self.files:
            self._skip(rel, SkipReason.DUPLICATE_FILE, f"the same file as {self.files[key]}")
            return
        self.files[key] = rel
        self.entries.append(InputFile(rel=rel, real=real, dev=st.st_dev, ino=st.st_ino, size=st.st_size,
                                      mtime_ns=st.st_mtime_ns))

    def _follow(self, rel: str, link: str, parent: str, depth: int) -> None:
        target = self._resolve(rel, link)
        if target is None:
            return
        try:
            st = os.lstat(target)
        except OSError as exc:
            self._skip(rel, SkipReason.UNREADABLE, f"link target: {os_error(exc)}")
            return
        if stat.S_ISDIR(st.st_mode):
            if is_inside(parent, target):
                self._skip(rel, SkipReason.SYMLINK_LOOP, "points to a folder that contains it")
            elif (child := self._folder(target, rel, depth, st)) is not None:
                self.pending.append(child)
        elif stat.S_ISREG(st.st_mode):
            self._file(rel, target, st)
        elif stat.S_ISLNK(st.st_mode):
            self._skip(rel, SkipReason.CHANGED_WHILE_READING, "the link's target changed while walking")
        else:
            self._skip(rel, SkipReason.SPECIAL_FILE, f"links to a {special_kind(st.st_mode)}; never opened")

    def _resolve(self, rel: str, link: str) -> str | None:
        """The real path of a link's target when it lies inside the collection; else a skip and None."""
        try:
            target = os.path.realpath(link, strict=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._skip(rel, SkipReason.SYMLINK_LOOP, "a cycle of links that never resolves")
            elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
                self._skip(rel, SkipReason.DANGLING_SYMLINK, "the target does not exist")
            elif not is_inside(os.path.realpath(link), self.root):
                self._skip(rel, SkipReason.SYMLINK_OUTSIDE, "resolves outside the collection folder")
            else:
                self._skip(rel, SkipReason.UNREADABLE, f"link: {os_error(exc)}")
            return None
        if not is_inside(target, self.root):
            self._skip(rel, SkipReason.SYMLINK_OUTSIDE, "resolves outside the collection folder; not followed")
            return None
        return target


def _listing(fd: int) -> list[tuple[str, os.stat_result | OSError]]:
    """A folder's entries by name, each with its own status (not its link target's) or the error."""
    out: list[tuple[str, os.stat_result | OSError]] = []
    with os.scandir(fd) as it:
        for entry in it:
            try:
                out.append((entry.name, entry.stat(follow_symlinks=False)))
            except OSError as exc:
                out.append((entry.name, exc))
    return sorted(out, key=lambda item: item[0])


def walk_collection(folder: Path, limits: ReadLimits | None = None) -> Walk:
    """Every entry of a collection folder, in path order: the files to read and the recorded skips."""
    root = os.path.realpath(folder)
    st = os.stat(root)  # a missing collection folder is the caller's error, not a skip
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{folder} is not a folder")
    walker = _Walker(root=root, max_depth=(limits or ReadLimits()).max_folder_depth)
    return Walk(root=root, entries=walker.run(_Folder(real=root, rel="", depth=0, key=(st.st_dev, st.st_ino))))
