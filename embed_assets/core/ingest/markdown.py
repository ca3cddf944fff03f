"""Markdown structure: the title and the heading path at any offset of a document."""

from __future__ import annotations

import bisect
import re

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# "):
            return stripped[2:].strip() or None
    return None


class HeadingIndex:
    """Heading paths by character offset: ``at(offset)`` is the path in force there."""

    def __init__(self, positions: list[int], paths: list[list[str]]) -> None:
        self.positions = positions
        self.paths = paths

    def at(self, offset: int) -> list[str]:
        i = bisect.bisect_right(self.positions, offset) - 1
        return list(self.paths[i]) if i >= 0 else []


def heading_index(text: str) -> HeadingIndex:
    positions: list[int] = []
    paths: list[list[str]] = []
    stack: list[tuple[int, str]] = []
    for m in _HEADING.finditer(text):
        level = len(m.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, m.group(2).strip()))
        positions.append(m.start())
        paths.append([h for _, h in stack])
    return HeadingIndex(positions, paths)
