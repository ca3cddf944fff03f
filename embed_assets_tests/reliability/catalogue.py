"""The kinds of hostile input, each with what must become of it."""

from __future__ import annotations

import codecs

from .hostile import (
    GOOD,
    LIMIT,
    Handled,
    Kind,
    collection_is_a_link,
    corpus,
    deep_folders,
    docs,
    fifo,
    hard_link_outside,
    hard_links,
    has,
    links,
    random_bytes,
    read_only,
    skip,
    sparse,
    titled,
    together,
    unix_socket,
    unreadable,
    unreadable_folder,
    writes,
)

ACCENTS = "naïve café über straße"
# Long enough sections that chunks start in each of them (a window is 200 tokens).
WORDS = " ".join(f"sentence {i} about retrieval." for i in range(120))
FENCED = (f"# Guide\n\n{WORDS}\n\n```bash\n# Not a heading\necho hi\n```\n\n~~~\n# Nor this\n~~~\n\n"
          f"    # indented code, not a heading\n\n{WORDS}\n\n## Usage\n\n{WORDS}\n")
CRLF_MARKDOWN = f"# Title\r\n\r\n{WORDS}\r\n\r\n## Part\r\n\r\n{WORDS}\r\n"
SUB_DOC = writes("sub/doc.txt", "A document in a sub-folder.")
FRONT_MATTER = "---\ntitle: from yaml\n# a YAML comment, not a heading\n---\nSetext Title\n============\n\nText.\n"


def _no_fake_headings(r: dict) -> bool:
    doc = docs(r).get("fenced.md")
    flat = {h for path in (doc or {}).get("headings", []) for h in path}
    return doc is not None and doc["title"] == "Guide" and flat <= {"Guide", "Usage"} and "Usage" in flat


def _split(r: dict) -> bool:
    doc = docs(r).get("one-line.txt")
    return doc is not None and doc["chunks"] > 100 and doc["max_tokens"] <= 254


def _crlf_markdown(r: dict) -> bool:
    doc = docs(r).get("crlf.md")
    return doc is not None and doc["title"] == "Title" and ["Title", "Part"] in doc["headings"]


def _only_good(r: dict) -> bool:
    return set(docs(r)) == {GOOD} and docs(r)[GOOD]["chunks"] == 1


SYMLINKS = [
    Kind("symlink-abs-outside-file", links("leak.txt", lambda p: p.outside / "canary.txt"), skip("symlink_outside")),
    Kind("symlink-rel-outside-file", links("leak.txt", lambda p: "../../../outside/canary.txt"),
         skip("symlink_outside")),
    Kind("symlink-etc-passwd", links("passwd.txt", lambda p: "/etc/passwd"), skip("symlink_outside")),
    Kind("symlink-other-collection", links("other.txt", lambda p: "../other/secret.txt"), skip("symlink_outside")),
    Kind("symlink-outside-folder", links("ext", lambda p: p.outside / "folder"), skip("symlink_outside")),
    Kind("symlink-loop-dot", links("loop", lambda p: "."), skip("symlink_loop")),
    Kind("symlink-parent", links("up", lambda p: ".."), skip("symlink_outside")),
    Kind("symlink-data-root", links("root", lambda p: "../.."), skip("symlink_outside")),
    Kind("symlink-filesystem-root", links("slash", lambda p: "/"), skip("symlink_outside")),
    Kind("symlink-cycle", together(links("a.txt", lambda p: "b.txt"), links("b.txt", lambda p: "a.txt")),
         skip("symlink_loop")),
    Kind("symlink-self", links("self.txt", lambda p: "self.txt"), skip("symlink_loop")),
    Kind("symlink-dangling-relative", links("gone.txt", lambda p: "missing.txt"), skip("dangling_symlink")),
    Kind("symlink-dangling-absolute", links("gone.txt", lambda p: "/nonexistent/missing.txt"),
         skip("dangling_symlink")),
    Kind("symlink-dev-zero", links("zero.txt", lambda p: "/dev/zero"), skip("symlink_outside")),
    Kind("symlink-proc-environ", links("env.txt", lambda p: "/proc/self/environ"), skip("symlink_outside")),
    Kind("symlink-proc-root", links("proc", lambda p: "/proc/self/root"), skip("symlink_outside")),
    Kind("symlink-inside-file", links("alias.txt", lambda p: GOOD), skip("duplicate_file")),
    Kind("symlink-inside-folder", together(SUB_DOC, links("latest", lambda p: "sub")),
         skip("duplicate_folder", embedded=2)),
    Kind("symlink-nested-loop", together(SUB_DOC, links("sub/back", lambda p: "..")), skip("symlink_loop", embedded=2)),
    Kind("symlink-into-hidden-folder", together(writes(".drafts/notes.md", "# Notes\n\nLinked in on purpose."),
                                                links("notes.md", lambda p: ".drafts/notes.md")),
         Handled("read once through the link", titled("notes.md", "Notes"), frozenset({"hidden"}))),
    Kind("symlink-out-and-back", links("hop.txt", lambda p: p.outside / "back.txt"), skip("duplicate_file")),
    Kind("collection-folder-is-a-link", collection_is_a_link, Handled("read", _only_good)),
    Kind("hard-link-inside", hard_links("twin.txt", GOOD), skip("duplicate_file")),
    Kind("hard-link-outside", hard_link_outside, Handled("read (a hard link is the file)", has("hard.txt", "HARDLINKED"))),
]

SPECIAL = [
    Kind("fifo-named-txt", fifo, skip("special_file")),
    Kind("socket-named-txt", unix_socket, skip("special_file")),
    Kind("folder-named-x-txt", writes("x.txt/inner.txt", "Inside a folder whose name ends in .txt."),
         Handled("walked as a folder", has("x.txt/inner.txt", "Inside"))),
]

NAMES = [
    Kind("name-not-utf8", writes(b"bad\xff-name.txt".decode("utf-8", "surrogateescape"), "bytes in the name"),
         skip("undecodable_name")),
    Kind("name-with-spaces", writes("my notes.txt", "Spaces in a name."), Handled("read", has("my notes.txt"))),
    Kind("name-with-newline", writes("new\nline.txt", "A newline in a name."),
         Handled("read under a printable id", has("new\\nline.txt", "newline"))),
    Kind("name-unicode", writes("résumé-日本語.txt", "Unicode in a name."), Handled("read", has("résumé-日本語.txt"))),
    Kind("name-255-bytes", writes("l" * 251 + ".txt", "A long name."), Handled("read", has("l" * 251 + ".txt"))),
    Kind("hidden-file", writes(".secret.txt", "hidden"), skip("hidden")),
    Kind("hidden-folder", writes(".git/HEAD", "ref: refs/heads/main"), skip("hidden")),
    Kind("folders-1200-deep", deep_folders, skip("folder_too_deep")),
    Kind("unreadable-file", lambda p: unreadable(p, "locked.txt"), skip("unreadable")),
    Kind("unreadable-folder", unreadable_folder, skip("unreadable")),
    Kind("read-only-file", read_only, Handled("read", has("read-only.txt", "read-only"))),
]

TEXTS = [
    Kind("latin-1", writes("latin1.txt", ACCENTS.encode("latin-1")), Handled("decoded with replacement",
                                                                             has("latin1.txt", "caf"))),
    Kind("utf-16-le-bom", writes("u16le.txt", codecs.BOM_UTF16_LE + ACCENTS.encode("utf-16-le")),
         Handled("decoded", has("u16le.txt", ACCENTS))),
    Kind("utf-16-be-bom", writes("u16be.txt", codecs.BOM_UTF16_BE + ACCENTS.encode("utf-16-be")),
         Handled("decoded", has("u16be.txt", ACCENTS))),
    Kind("utf-32-bom", writes("u32.txt", ACCENTS.encode("utf-32")), Handled("decoded", has("u32.txt", ACCENTS))),
    Kind("utf-8-bom", writes("bom.txt", codecs.BOM_UTF8 + ACCENTS.encode()),
         Handled("BOM dropped", lambda r: has("bom.txt", ACCENTS)(r) and "\ufeff" not in docs(r)["bom.txt"]["text_head"])),
    Kind("crlf", writes("crlf.txt", "line one\r\nline two\r\n"), Handled("read", has("crlf.txt", "line two"))),
    Kind("lone-cr", writes("cr.txt", "line one\rline two\r"), Handled("read", has("cr.txt", "line two"))),
    Kind("control-characters", writes("ctl.txt", "bell\x07 and escape\x1b[0m in ordinary words of a sentence"),
         Handled("read", has("ctl.txt", "ordinary"))),
    Kind("nul-bytes", writes("nul.txt", b"text\x00with\x00nul"), skip("binary")),
    Kind("png-named-txt", writes("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), skip("binary")),
    Kind("random-bytes", random_bytes, skip("binary")),
    Kind("empty-file", writes("empty.txt", b""), skip("empty")),
    Kind("whitespace-only", writes("blank.txt", " \n\t\r\n  "), skip("empty")),
    Kind("five-mb-single-line", writes("one-line.txt", " ".join(f"word{i}" for i in range(600_000))[:5_000_000]),
         Handled("split under the model limit", _split)),
    Kind("over-the-limit", lambda p: sparse(p, "huge.txt", LIMIT + 1), skip("too_large")),
    Kind("sparse-1gb", lambda p: sparse(p, "sparse.txt", 1 << 30), skip("too_large")),
    Kind("unsupported-type", writes("paper.pdf", b"%PDF-1.7"), skip("unsupported_type")),
    Kind("markdown-headings-in-fences", writes("fenced.md", FENCED), Handled("real headings only", _no_fake_headings)),
    Kind("markdown-front-matter", writes("front.md", FRONT_MATTER), Handled("setext title", titled("front.md",
                                                                                                  "Setext Title"))),
    Kind("markdown-crlf", writes("crlf.md", CRLF_MARKDOWN),
         Handled("headings through CRLF", _crlf_markdown)),
    Kind("markdown-10k-quotes", writes("quotes.md", ">" * 10_000 + " deep"), Handled("read", has("quotes.md"))),
]

CORPORA = [
    Kind("json-1100-deep", corpus('{"_id": "deep", "text": ' + "[" * 1100 + "]" * 1100 + "}"), skip("json_too_deep")),
    Kind("json-not-object", corpus('["a"]', '"text"', "42", "null"), skip("invalid_json")),
    Kind("json-broken", corpus('{"_id": "x", "text": "unterminated'), skip("invalid_json")),
    Kind("json-huge-integer", corpus('{"_id": 1' + "0" * 5000 + ', "text": "x"}'), skip("invalid_json")),
    Kind("duplicate-ids", corpus('{"_id": "d", "text": "first"}', '{"_id": "d", "text": "second"}'),
         Handled("first kept", has("d", "first"), frozenset({"duplicate_id"}))),
    Kind("missing-id", corpus('{"text": "no id"}'), skip("missing_id")),
    Kind("whitespace-id", corpus('{"_id": "  ", "text": "blank id"}'), skip("missing_id")),
    Kind("numeric-id", corpus('{"_id": 7, "text": "a number as id"}'), Handled("read as '7'", has("7", "number"))),
    Kind("object-id", corpus('{"_id": {"a": 1}, "text": "an object as id"}'), skip("invalid_id")),
    Kind("zero-length-corpus", corpus(), skip("empty")),
    Kind("blank-lines-corpus", writes("corpus.jsonl", "\n\n  \n"), skip("empty")),
    Kind("binary-corpus", writes("corpus.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00"), skip("binary")),
    Kind("lone-surrogate", corpus('{"_id": "s", "text": "broken \\ud800 surrogate"}'),
         Handled("replaced", has("s", "\ufffd"))),
    Kind("corpus-line-over-limit", lambda p: sparse(p, "corpus.jsonl", LIMIT + (1 << 20),
                                                     b'{"_id": "big", "text": "' + b"a" * 9000), skip("too_large")),
    Kind("corpus-sparse-1gb", lambda p: sparse(p, "corpus.jsonl", 1 << 30), skip("binary")),
    Kind("corpus-symlink-outside", links("corpus.jsonl", lambda p: p.outside / "canary.txt"), skip("symlink_outside")),
]

KINDS = [*SYMLINKS, *SPECIAL, *NAMES, *TEXTS, *CORPORA]
