"""Collection names are Dagster partition keys and folder names: they must be safe."""

from __future__ import annotations

import re
import unicodedata

MAX_COLLECTION_NAME_LENGTH = 128
_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UnsafeCollectionName(ValueError):
    """A collection name that cannot be used as a partition key or a folder name."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name = name
        self.problems = problems
        shown = name if len(name) <= 40 else name[:40] + "…"
        super().__init__(
            f"unsafe collection name {shown!r}: {'; '.join(problems)}. "
            "Use letters, digits, '.', '_' and '-' (starting with a letter or digit), "
            f"at most {MAX_COLLECTION_NAME_LENGTH} characters."
        )


def collection_name_problems(name: str) -> list[str]:
    """Every reason ``name`` is unsafe; empty when it is safe."""
    problems: list[str] = []
    if not name:
        return ["the name is empty"]
    if len(name) > MAX_COLLECTION_NAME_LENGTH:
        problems.append(f"it is {len(name)} characters long (limit {MAX_COLLECTION_NAME_LENGTH})")
    if "/" in name or "\\" in name:
        problems.append("it contains a path separator")
    if ".." in name:
        problems.append("it contains '..'")
    if "," in name:
        problems.append("it contains a comma")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        problems.append("it contains a control character")
    if not problems and not _ALLOWED.match(name):
        problems.append("it contains characters outside [A-Za-z0-9._-] or does not start with a letter or digit")
    return problems


def validate_collection_name(name: str) -> str:
    """Return ``name`` unchanged when it is safe; raise :class:`UnsafeCollectionName` otherwise."""
    problems = collection_name_problems(name)
    if problems:
        raise UnsafeCollectionName(name, problems)
    return name
