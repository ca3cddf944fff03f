"""``chunks``: a collection's documents split into token-aware ChunkRecord rows."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.ingest.chunking import ChunkingConfig
from embed_assets.core.ingest.documents import ReadLimits
from embed_assets.core.preflight import writable_problem
from embed_assets.core.stages.chunks import run_chunks_stage
from embed_assets.resources import ModelManagerResource

from ..config import ChunksConfig
from ..metadata import chunks_metadata
from ..resources import PathsResource
from .common import asset_options, collection_of, progress, run_id_of, traced


@dg.asset(**asset_options(kinds={"python", "parquet"},
                          description="Documents of a collection split into token-aware chunks (ChunkRecord rows)."))
@traced("chunks")
def chunks(context: dg.AssetExecutionContext, config: ChunksConfig, paths: PathsResource,
           model_manager: ModelManagerResource) -> dg.Output[pa.Table]:
    collection = collection_of(context)
    folder = paths.collection_folder(collection)
    if not folder.is_dir():
        raise dg.Failure(f"collection folder {folder} does not exist")
    if problem := writable_problem(paths.exports):  # fail now, not after the embedding work
        raise dg.Failure(f"export root: {problem}")
    table, envelope = run_chunks_stage(
        folder, collection, model_manager.token_limits(),
        ChunkingConfig(chunk_tokens=config.chunk_tokens, overlap_tokens=config.overlap_tokens),
        ReadLimits(max_file_bytes=config.max_file_bytes), run_id=run_id_of(context))
    docs = envelope.stage.documents
    progress(context, f"chunks: {envelope.stage.count} chunks from {docs.embedded} documents "
                      f"({docs.skipped} skipped of {docs.seen} seen)")
    return dg.Output(table, metadata=chunks_metadata(table, envelope))
