"""Generations of a collection's chunks: which rows are committed, and undoing what a crashed write left."""

from __future__ import annotations

from typing import Any

WRITE_BATCH = 2000
NEVER = 2**62  # `retired` of a chunk that no generation has replaced


def generation_of(collection: Any) -> int | None:
    """The last committed generation, or None for a collection written before generations existed."""
    value = (collection.metadata or {}).get("generation")
    return None if value is None else int(value)


def visible(generation: int | None) -> dict | None:
    """The where clause of the chunks visible at a generation (None: every chunk)."""
    if generation is None:
        return None
    return {"$and": [{"written": {"$lte": generation}}, {"retired": {"$gt": generation}}]}


def is_visible(metadata: dict[str, Any] | None, generation: int | None) -> bool:
    """Whether a chunk is part of the committed state at a generation (None: every chunk is)."""
    if generation is None or metadata is None:
        return generation is None
    return int(metadata.get("written", 0)) <= generation < int(metadata.get("retired", NEVER))


def both(first: dict | None, second: dict | None) -> dict | None:
    """Two where clauses joined with $and, either of them possibly absent."""
    if first is None or second is None:
        return first or second
    return {"$and": [first, second]}


def prepare(collection: Any) -> int:
    """The committed generation, after undoing what a crashed write left and stamping chunks from before generations.

    A write marks the collection `writing` until its stale chunks are deleted, so the scans that undo a crashed
    write (each reads every row's metadata) run only after a crash, not before every write."""
    generation = generation_of(collection)
    if generation is None:
        found = collection.get(include=["metadatas"])
        for start in range(0, len(found["ids"]), WRITE_BATCH):
            collection.update(ids=found["ids"][start : start + WRITE_BATCH], metadatas=[
                {**m, "written": 0, "retired": NEVER} for m in found["metadatas"][start : start + WRITE_BATCH]])
        collection.modify(metadata={**(collection.metadata or {}), "generation": 0})
        return 0
    if not (collection.metadata or {}).get("writing"):
        return generation
    delete_ids(collection, collection.get(where={"written": {"$gt": generation}}, include=[])["ids"])
    delete_ids(collection, collection.get(where={"retired": {"$lte": generation}}, include=[])["ids"])
    undone = collection.get(where={"$and": [{"retired": {"$gt": generation}}, {"retired": {"$lt": NEVER}}]},
                            include=[])["ids"]
    set_retired(collection, undone, NEVER)
    return generation


def set_retired(collection: Any, ids: list[str], generation: int) -> None:
    """Mark chunks as replaced by a generation (NEVER: not replaced)."""
    for start in range(0, len(ids), WRITE_BATCH):
        found = collection.get(ids=ids[start : start + WRITE_BATCH], include=["metadatas"])
        if found["ids"]:
            collection.update(ids=found["ids"], metadatas=[{**m, "retired": generation} for m in found["metadatas"]])


def delete_ids(collection: Any, ids: list[str]) -> None:
    """Delete chunks by id, in batches."""
    for start in range(0, len(ids), WRITE_BATCH):
        collection.delete(ids=ids[start : start + WRITE_BATCH])
