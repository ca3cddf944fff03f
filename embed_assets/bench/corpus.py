"""The benchmark's collection: real-tokenizer words, log-normal document lengths, Zipf-like use."""

from __future__ import annotations

import random
from pathlib import Path

from embed_assets.core.encode.models import load_tokenizer, resolve_model
from embed_assets.core.settings import DEFAULT_DENSE_MODEL


def _vocabulary() -> list[str]:
    tok = load_tokenizer(resolve_model(DEFAULT_DENSE_MODEL))
    return sorted(w for w in tok.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2)


def _document(rng: random.Random, words: list[str], weights: list[float]) -> tuple[str, int]:
    n_words = int(min(2500, max(6, rng.lognormvariate(4.3, 1.0))))
    sentences = []
    remaining = n_words
    while remaining > 0:
        k = min(remaining, rng.randint(6, 24))
        sentences.append(" ".join(rng.choices(words, weights=weights, k=k)).capitalize() + ".")
        remaining -= k
    paragraphs = [" ".join(sentences[i:i + 5]) for i in range(0, len(sentences), 5)]
    return "\n\n".join(paragraphs), n_words


def write_collection(folder: Path, target_chunks: int, seed: int = 0) -> int:
    """Documents with a skewed (log-normal) length distribution and Zipf-like word use:
    most are a chunk or two, a few run to many chunks. Returns the document count."""
    rng = random.Random(seed)
    words = _vocabulary()
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    folder.mkdir(parents=True, exist_ok=True)
    est_chunks = 0.0
    n_docs = 0
    while est_chunks < target_chunks:
        text, n_words = _document(rng, words, weights)
        (folder / f"doc-{n_docs:05d}.txt").write_text(text, "utf-8")
        est_chunks += max(1.0, n_words * 1.25 / 168)
        n_docs += 1
    return n_docs


def change_documents(folder: Path, fraction: float, seed: int = 1) -> int:
    docs = sorted(folder.glob("*.txt"))
    rng = random.Random(seed)
    chosen = rng.sample(docs, max(1, round(len(docs) * fraction)))
    for path in chosen:
        path.write_text(path.read_text("utf-8") + "\n\nAn added closing sentence changes this document.", "utf-8")
    return len(chosen)
