"""A second process for the concurrency tests: it opens an index the way applications do.

``python -m embed_assets_tests.core.index.reader_process ROOT hold`` opens the served
version, prints ``ready <version>`` and holds it until a line arrives on stdin.
``... ROOT loop SECONDS`` queries continuously, following the pointer, and prints one JSON
line: the versions it saw with the counts it observed in each, and any errors.
``... ROOT write [COLLECTION]`` holds a collection's writer lock until a line arrives on stdin.
The collection is ``c`` unless named.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from embed_assets.core.index.edge_publisher import EdgePublisher
from embed_assets.core.index.store import HybridQuery, VectorQuery
from embed_assets.core.index.target import IndexTarget


def hold(target: IndexTarget) -> None:
    with target.reader("c", wait_s=0) as reader:
        print(f"ready {reader.version}", flush=True)
        sys.stdin.readline()


def write(target: IndexTarget, collection: str) -> None:
    publisher = EdgePublisher(target.folder(collection), collection)
    print("ready", flush=True)
    sys.stdin.readline()
    publisher.close()


def loop(target: IndexTarget, seconds: float) -> None:
    seen: dict[str, list[int]] = {}
    errors: list[str] = []
    queries = 0
    deadline = time.monotonic() + seconds
    with target.reader("c", wait_s=5) as reader:
        print("ready", flush=True)
        while time.monotonic() < deadline:
            try:
                reader.refresh()
                count = reader.store.count()
                state = reader.state
                expected = state.points if state else -1
                probe = VectorQuery(name="dense", dense=tuple([1.0] + [0.0] * (state.index_schema.dense_size - 1)))
                hits = reader.store.query(HybridQuery(vectors=(probe,), limit=5))
                queries += 1
                seen.setdefault(reader.version, []).append(count)
                if count != expected or len(hits) != 5:
                    errors.append(f"{reader.version}: {count} points, state says {expected}")
            except Exception as exc:  # noqa: BLE001 - every failure is what this process reports
                errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"seen": {v: sorted(set(c)) for v, c in seen.items()}, "errors": errors[:20],
                      "queries": queries}), flush=True)


def main() -> None:
    root, mode = Path(sys.argv[1]), sys.argv[2]
    target = IndexTarget(root=root)
    if mode == "hold":
        hold(target)
    elif mode == "write":
        write(target, sys.argv[3] if len(sys.argv) > 3 else "c")
    else:
        loop(target, float(sys.argv[3]))


if __name__ == "__main__":
    main()
