"""Guards on what a run may publish: a collection that suddenly has no documents (an
unmounted share, a vanished sync folder) or lost most of them never replaces a good export
without an explicit choice."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from ..storage.exports import FUSED_PARQUET


class GuardSettings(BaseModel):
    max_document_drop: float = Field(default=0.5, ge=0, le=1,
                                     description="Largest share of the last good export's documents a run may lose.")
    allow_empty: bool = Field(default=False, description="A deliberate purge: an empty collection may publish.")


class DocumentLoss(BaseModel):
    previous: int = Field(description="Documents in the last good export (0: none published).")
    current: int
    lost: int = Field(description="Documents of the last good export that this run no longer has.")
    problems: list[str] = Field(default_factory=list)

    @property
    def share(self) -> float:
        return self.lost / self.previous if self.previous else 0.0


def exported_doc_ids(folder: Path | None) -> set[str]:
    """The document ids of a published export (empty when there is none)."""
    if folder is None or not (folder / FUSED_PARQUET).is_file():
        return set()
    return {str(d) for d in pq.read_table(folder / FUSED_PARQUET, columns=["doc_id"]).column("doc_id").to_pylist()}


def document_loss(previous_folder: Path | None, current_doc_ids: Iterable[str], settings: GuardSettings,
                  ) -> DocumentLoss:
    """How many of the last good export's documents this run lost, and why it must not publish."""
    before = exported_doc_ids(previous_folder)
    now = set(current_doc_ids)
    loss = DocumentLoss(previous=len(before), current=len(now), lost=len(before - now))
    if not before or settings.allow_empty:
        return loss
    if not now:
        loss.problems.append(f"no embeddable documents, but the last good export has {len(before)}; it stays "
                             "published (if the collection was emptied on purpose, run with --allow-empty)")
    elif loss.share > settings.max_document_drop:
        loss.problems.append(f"{loss.lost} of the last good export's {len(before)} documents ({loss.share:.0%}) "
                             f"are gone, more than the {settings.max_document_drop:.0%} allowed; the last good "
                             "export stays published (to accept the loss, run with --allow-drop)")
    return loss
