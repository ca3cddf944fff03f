"""The Python API: a cheap import, the index opened from the settings' places, modes checked
against what the index holds, and queries refused when the models differ from the recorded ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import embed_assets
from embed_assets.core.index.encoder import EncoderMismatch
from embed_assets.core.index.sync import sync_index
from embed_assets.core.index.target import IndexTarget
from embed_assets.core.index.versions import IndexNotFound

from ...helpers import REPO
from .conftest import make_export, make_manifest

HEAVY = ("torch", "sentence_transformers", "dagster", "qdrant_client", "qdrant_edge", "pyarrow")


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = f"import sys, embed_assets; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert callable(embed_assets.open_index) and embed_assets.Index.__name__ == "Index"


def test_open_index_finds_the_collection_under_the_data_root(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound):
        embed_assets.open_index("c", data_root=tmp_path)
    sync_index(IndexTarget(root=tmp_path / "index"), "c", make_export(5, lexical=False),
               make_manifest(lexical=False), "e1")
    with embed_assets.open_index("c", data_root=tmp_path) as index:
        assert index.count() == 15 and index.version == "v000001" and index.state.export_version == "e1"
        assert index.members("hybrid") == ("dense", "splade") and index.members("dense") == ("dense",)
        with pytest.raises(ValueError, match="not available"):
            index.members("lexical")
        with pytest.raises(ValueError, match="fusion must be"):
            index.search("q", fusion="max")
        # The recorded weights fingerprint is not the installed model's: queries would not match.
        with pytest.raises(EncoderMismatch, match="other weights"):
            index.search("how are documents chunked")
    with embed_assets.open_index("c", index_root=tmp_path / "index", verify_models=False) as index:
        assert index.describe().points == 15
