"""Server addresses: credentials never leave the client, in locations or in errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from embed_assets.core.index.server import ServerStore, connect, redact_url
from embed_assets.core.index.store import IndexSchema, StoreError
from embed_assets.core.index.target import IndexTarget

CANARY = "canary-5e1f0c8a-key"


@pytest.mark.parametrize(("url", "shown"), [
    ("https://qdrant.example:6333", "https://qdrant.example:6333"),
    (f"https://user:{CANARY}@qdrant.example:6333/base?api-key={CANARY}#x", "https://***@qdrant.example:6333/base"),
    (f"http://{CANARY}@10.0.0.5", "http://***@10.0.0.5"),
    ("file:///tmp/index", "file:///tmp/index"),
])
def test_locations_never_show_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert CANARY not in IndexTarget(root=Path("/x"), url=url, api_key=SecretStr(CANARY)).location


def test_the_key_is_hidden_in_the_target_and_unknown_schemes_are_refused() -> None:
    target = IndexTarget(root=Path("/x"), url="https://h", api_key=SecretStr(CANARY))
    assert CANARY not in repr(target) and CANARY not in target.model_dump_json()
    with pytest.raises(ValueError, match="http://, https:// or file://"):
        connect(f"ftp://u:{CANARY}@h")
    with pytest.raises(ValueError) as info:
        connect(f"ftp://u:{CANARY}@h")
    assert CANARY not in str(info.value)


def test_an_unreachable_server_fails_without_quoting_the_request() -> None:
    client = connect(f"http://user:{CANARY}@127.0.0.1:9", SecretStr(CANARY), timeout_s=2)
    store = ServerStore(client, "c", redact_url("http://127.0.0.1:9"))
    with pytest.raises(StoreError) as info:
        store.ensure_schema(IndexSchema(dense_size=4))
    client.close()
    assert CANARY not in str(info.value) and info.value.__cause__ is None and info.value.__context__ is None
