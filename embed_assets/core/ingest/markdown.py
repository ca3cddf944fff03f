"""Markdown structure: the title and the heading path at any offset of a document.

Headings come from a CommonMark parser, so a ``#`` line inside a fenced (```` ``` ````,
``~~~``) or indented code block is not a heading, setext headings (a line underlined
with ``===`` or ``---``) are, and YAML front matter is not Markdown at all. Only
headings at the top level of the document give it structure; a heading quoted inside a
block quote or a list item is content. The parser reports source lines; they are mapped
back to character offsets with the parser's own idea of a line break (``\\r\\n``, ``\\r``
or ``\\n``).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

# Block structure only: inline parsing of every paragraph is most of the cost and is not
# needed to find headings. Heading text is rendered inline on its own, below.
_BLOCKS = MarkdownIt("commonmark")
_BLOCKS.core.ruler.disable(["inline"])
_INLINE = MarkdownIt("commonmark")

_LINE_BREAK = re.compile(r"\r\n?|\n")
_INLINE_SYNTAX = re.compile(r"[`*_\[\]<>!&\\]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    offset: int = 0  # where the heading's first line starts in the document


def _line(text: str, starts: list[int], i: int) -> str:
    end = starts[i + 1] if i + 1 < len(starts) else len(text)
    return text[starts[i]:end].rstrip("\r\n")


def front_matter_lines(text: str, starts: list[int]) -> int:
    """How many lines of YAML front matter (``---`` … ``---`` or ``...``) open ``text``; 0 when none."""
    if _line(text, starts, 0).lstrip("\ufeff").rstrip(" \t") != "---":
        return 0
    for i in range(1, len(starts)):
        if _line(text, starts, i).rstrip(" \t") in ("---", "..."):
            return i + 1
    return 0


def _plain(source: str) -> str:
    """The text a heading shows: emphasis, links and code spans reduced to their words."""
    if _INLINE_SYNTAX.search(source):
        tokens = _INLINE.parseInline(source)
        source = "".join(_text_of(tokens[0].children or [])) if tokens else source
    return _SPACES.sub(" ", source).strip()


def _text_of(tokens: list) -> list[str]:
    out: list[str] = []
    for token in tokens:
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif token.children:
            out.extend(_text_of(token.children))
    return out


def headings(text: str) -> list[Heading]:
    """Every top-level heading of a Markdown document, in order, with its offset."""
    starts = [0, *(m.end() for m in _LINE_BREAK.finditer(text))]
    skipped = front_matter_lines(text, starts)
    # Front matter becomes blank lines, so that line numbers still count from the top.
    body = text
    if skipped:
        body = "\n" * skipped + (text[starts[skipped]:] if skipped < len(starts) else "")
    tokens = _BLOCKS.parse(body)
    out: list[Heading] = []
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type != "heading_open" or opening.level != 0 or not opening.map:
            continue
        title = _plain(inline.content)
        if title:
            out.append(Heading(level=int(opening.tag[1:]), text=title, offset=starts[opening.map[0]]))
    return out


def markdown_title(text: str) -> str | None:
    """The document's first level-1 heading (``# Title`` or ``Title`` over ``===``)."""
    return next((h.text for h in headings(text) if h.level == 1), None)


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
    for heading in headings(text):
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        stack.append((heading.level, heading.text))
        positions.append(heading.offset)
        paths.append([h for _, h in stack])
    return HeadingIndex(positions, paths)
