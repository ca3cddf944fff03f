"""Markdown structure from a CommonMark parser: real headings only, setext headings,
front matter left out, offsets right whatever the line breaks."""

from __future__ import annotations

import pytest

from embed_assets.core.encode.models import load_tokenizer, resolve_model
from embed_assets.core.ingest.chunking import Chunker, ChunkingConfig, TokenLimit
from embed_assets.core.ingest.documents import Document
from embed_assets.core.ingest.markdown import heading_index, markdown_title

FENCES = """# Guide

```bash
# not a heading (a shell comment)
```

~~~
## nor this
~~~

    # nor this indented code

> # a quoted heading is content

## Setup
"""


def headings(text: str) -> list[list[str]]:
    """The heading path in force after each heading."""
    return heading_index(text).paths


def offsets(text: str) -> list[int]:
    return heading_index(text).positions


def test_headings_inside_code_are_not_headings() -> None:
    assert headings(FENCES) == [["Guide"], ["Guide", "Setup"]]


def test_setext_headings_count_and_the_first_h1_is_the_title() -> None:
    text = "Intro paragraph.\n\nSub first\n---------\n\nThe Title\n=========\n\n# Second H1\n"
    assert headings(text) == [["Sub first"], ["The Title"], ["Second H1"]]
    assert markdown_title(text) == "The Title"
    assert markdown_title("No heading at all.\n") is None


def test_front_matter_is_not_markdown() -> None:
    text = "---\ntitle: From YAML\n# a YAML comment\n---\n\nBody\n====\n"
    assert headings(text) == [["Body"]]
    assert markdown_title(text) == "Body"
    unclosed = "---\n# Real\n"  # no closing line: a thematic break, then a heading
    assert headings(unclosed) == [["Real"]]


def test_heading_text_is_what_the_heading_shows() -> None:
    assert headings("## Use *the* `cli` [here](http://x) ##\n") == [["Use the cli here"]]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_offsets_point_at_the_heading_line_whatever_the_line_breaks(newline: str) -> None:
    text = newline.join(["# A", "", "text of a", "", "## B", "", "text of b", "", "# C", "text of c"])
    index = heading_index(text)
    assert index.paths == [["A"], ["A", "B"], ["C"]]
    assert [text[at:at + 4].rstrip() for at in index.positions] == ["# A", "## B", "# C"]
    assert index.at(0) == ["A"]
    assert index.at(text.index("text of b")) == ["A", "B"]
    assert index.at(text.index("text of c")) == ["C"]
    assert heading_index("before\n# A\n").at(0) == []


def test_front_matter_keeps_the_offsets() -> None:
    text = "---\r\nkey: value\r\n---\r\n# Title\r\ntext\r\n"
    [at] = offsets(text)
    assert text[at:].startswith("# Title")


def test_chunks_carry_real_heading_paths() -> None:
    tokenizer = load_tokenizer(resolve_model("all-MiniLM-L6-v2"))
    words = " ".join(f"sentence {i} about retrieval." for i in range(60))
    text = f"# Guide\n\n{words}\n\n```\n# Fake\n```\n\n{words}\n\n## Setup\n\n{words}\n"
    chunker = Chunker(ChunkingConfig(chunk_tokens=48, overlap_tokens=0), [TokenLimit("m", tokenizer, 254)])
    chunks = chunker.chunk(Document(doc_id="a.md", source_path="a.md", kind="markdown", text=text), "c")
    paths = {tuple(c.metadata.headings) for c in chunks}
    assert paths == {("Guide",), ("Guide", "Setup")}
