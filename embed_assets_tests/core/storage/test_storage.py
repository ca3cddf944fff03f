from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from embed_assets.core.storage.files import atomic_write_parquet
from embed_assets.core.storage.publish import ExportPublisher


def test_failed_staging_never_replaces_the_published_version(tmp_path: Path) -> None:
    pub = ExportPublisher(tmp_path, "coll", keep=2)
    with pub.staging() as folder:
        (folder / "a.txt").write_text("v1")
        first = pub.publish(folder, "0001")
    assert (tmp_path / "coll" / "a.txt").read_text() == "v1" and pub.current() == first
    with pytest.raises(RuntimeError), pub.staging() as folder:
        (folder / "a.txt").write_text("half")
        raise RuntimeError("interrupted mid-export")
    assert (tmp_path / "coll" / "a.txt").read_text() == "v1"
    assert [p.name for p in (tmp_path / ".history" / "coll").iterdir()] == ["0001"]
    for version in ("0002", "0003"):
        with pub.staging() as folder:
            (folder / "a.txt").write_text(version)
            pub.publish(folder, version)
    assert (tmp_path / "coll" / "a.txt").read_text() == "0003"
    assert [p.name for p in pub.versions()] == ["0002", "0003"]


def test_a_plain_folder_in_the_way_is_kept_not_lost(tmp_path: Path) -> None:
    (tmp_path / "coll").mkdir()
    (tmp_path / "coll" / "old.txt").write_text("keep me")
    pub = ExportPublisher(tmp_path, "coll")
    with pub.staging() as folder:
        (folder / "a.txt").write_text("new")
        pub.publish(folder, "0001")
    kept = list((tmp_path / ".history" / "coll").glob("unversioned-*/old.txt"))
    assert len(kept) == 1 and kept[0].read_text() == "keep me"


def test_atomic_parquet_is_readable_by_pandas_and_leaves_no_temp_files(tmp_path: Path) -> None:
    dest = tmp_path / "x" / "p.parquet"
    atomic_write_parquet(dest, pa.table({"a": [1, 2]}))
    assert pd.read_parquet(dest)["a"].tolist() == [1, 2]
    assert [p.name for p in dest.parent.iterdir()] == ["p.parquet"]
