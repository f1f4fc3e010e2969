"""Vectors reused by text hash: a chunk whose exact text was embedded before is not embedded again.

Every stored chunk carries `text_hash` in its metadata: a hash of what made its vector (the
model's fingerprint, the backend and its numeric form) and of the exact string embedded (the
text, with its context in front when contextualized). Before an embed batch is encoded, one
Chroma `get` asks for stored chunks with the batch's hashes; their vectors are copied and only
the rest go to the model. So a chunk moved by an edit earlier in its book (a new position, so a
new id) or a book moved to another path costs a Chroma read, not an encoding.

How many chunks of a run were encoded and how many reused is kept beside the run's ledger,
under ``ragmill:run:<run>:reuse``, one field per batch message so a redelivered task is
counted once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from tasks.collection_record import model_fingerprint, quantisation_of
from tasks.ledger import PREFIX, RUN_TTL
from tasks.settings import Settings

HASH_KEY = "text_hash"
# A Chroma `$in` filter with a batch's hashes (at most RAGMILL_BATCH_CHUNKS of them) is one
# round trip; this only bounds what a pathological batch asks for at once.
LOOKUP_PAGE = 512

_forms: dict[tuple[str, str, str, str], str] = {}


def vector_form(settings: Settings) -> str:
    """What decides a vector besides its text: model files, backend, numeric form, endpoint.

    Cached per process: the fingerprint stats the model's files.
    """
    key = (settings.model, settings.embed_backend, settings.embed_variant,
           str(settings.remote_embed.dimensions or ""))
    if key not in _forms:
        parts = (model_fingerprint(settings.model), settings.embed_backend,
                 quantisation_of(settings.embed_backend, settings.embed_variant), key[3])
        _forms[key] = "|".join(parts)
    return _forms[key]


def text_hash(form: str, embedded: str) -> str:
    """The reuse key of `embedded` (the exact string given to the model) under `form`."""
    digest = hashlib.sha256(form.encode("utf-8") + b"\0" + embedded.encode("utf-8"))
    return digest.hexdigest()[:32]


def stored_vectors(collection: Any, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vector of each of `hashes` that some chunk of `collection` already has.

    Two reads a page: the ids of the chunks holding the hashes (metadata only), then one vector
    per hash by id. A text stored many times (copies of a book) would otherwise send every copy's
    vector back: with 30 copies, 3.6 ms of Chroma's CPU a chunk against 0.14 (docs/scaling.md).
    """
    wanted = sorted(set(hashes))
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), LOOKUP_PAGE):
        page = wanted[start:start + LOOKUP_PAGE]
        holders = collection.get(where={HASH_KEY: {"$in": page}}, include=["metadatas"])
        first: dict[str, str] = {}
        for chunk_id, metadata in zip(holders["ids"], holders["metadatas"] or [], strict=True):
            key = (metadata or {}).get(HASH_KEY)
            if isinstance(key, str):
                first.setdefault(key, chunk_id)
        if not first:
            continue
        got = collection.get(ids=list(first.values()), include=["embeddings", "metadatas"])
        vectors = got["embeddings"] if got["embeddings"] is not None else []
        for metadata, vector in zip(got["metadatas"] or [], vectors, strict=True):
            key = (metadata or {}).get(HASH_KEY)
            if isinstance(key, str):
                found.setdefault(key, np.asarray(vector, dtype=np.float32))
    return found


@dataclass(frozen=True)
class Split:
    """A batch split by reuse: the indexes (into the batch) to encode, and the vectors found."""

    hashes: list[str]
    reused: dict[int, np.ndarray]

    @property
    def fresh(self) -> list[int]:
        return [i for i in range(len(self.hashes)) if i not in self.reused]


def split_batch(collection: Any, form: str, texts: Sequence[str]) -> Split:
    """Which of `texts` (the strings to embed) need the model, and the vectors of the rest."""
    hashes = [text_hash(form, t) for t in texts]
    found = stored_vectors(collection, hashes)
    return Split(hashes, {i: found[h] for i, h in enumerate(hashes) if h in found})


def count(client: redis.Redis, run_id: str, batch_key: str, embedded: int, reused: int) -> None:
    """Record what one batch message encoded and reused (a redelivery overwrites, not adds)."""
    key = f"{PREFIX}:{run_id}:reuse"
    pipe = client.pipeline()
    pipe.hset(key, batch_key, f"{embedded} {reused}")
    pipe.expire(key, RUN_TTL)
    pipe.execute()


def totals(client: redis.Redis, run_id: str) -> tuple[int, int]:
    """Chunks of the run encoded by the model, and chunks whose stored vector was reused."""
    embedded = reused = 0
    for value in client.hvals(f"{PREFIX}:{run_id}:reuse"):
        text = value.decode() if isinstance(value, bytes) else str(value)
        first, second = text.split()
        embedded, reused = embedded + int(first), reused + int(second)
    return embedded, reused


@dataclass(frozen=True)
class Encoded:
    """A batch's vectors: `order` lists the batch indexes served, in the order of `vectors`;
    `rest` those an endpoint's shared limit left for later."""

    order: list[int]
    vectors: np.ndarray
    hashes: list[str]
    rest: list[int]
    busy: float
    embedded: int
    reused: int


Encode = Callable[[list[str], "list[int] | None"], tuple[np.ndarray, float]]


def encode_with_reuse(
    collection: Any, form: str, texts: Sequence[str], lengths: Sequence[int] | None,
    encode: Encode,
) -> Encoded:
    """Vectors for `texts`: stored ones where the same text was embedded before, the model's
    (`encode`, which may serve only the first texts it is given) for the rest."""
    split = split_batch(collection, form, texts)
    fresh = split.fresh
    vectors: list[np.ndarray] = [split.reused[i] for i in sorted(split.reused)]
    busy, served = 0.0, 0
    if fresh:
        encoded, busy = encode(
            [texts[i] for i in fresh], None if lengths is None else [lengths[i] for i in fresh]
        )
        served = len(encoded)
        vectors += [np.asarray(v, dtype=np.float32) for v in encoded]
    return Encoded(
        order=sorted(split.reused) + fresh[:served],
        vectors=np.vstack(vectors) if vectors else np.empty((0, 0), dtype=np.float32),
        hashes=split.hashes,
        rest=fresh[served:],
        busy=busy,
        embedded=served,
        reused=len(split.reused),
    )
