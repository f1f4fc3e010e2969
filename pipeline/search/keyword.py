"""Keyword (BM25) search and keyword-plus-meaning (hybrid) search over the stored chunks.

Meaning search misses what an embedding blurs: a rare name, a coined word, an exact phrase. BM25
(the `bm25s` library) ranks chunks by the question's words themselves. The index is built in
this process from the collection's texts, once per collection and chunk count, so a long-lived
reader (the search service, a `Library`) builds it on its first keyword search and reuses it;
after an ingest or a delete the count changes and the next search builds it anew.

A command that runs once per question (`ragmill query` without a search service) would build the
index anew every time: seconds for 10,000 chunks. So the built index is also kept on disk, under
the data directory's cache, keyed by the collection's id, name, chunk count and a digest of every
chunk id. Chunk ids hold a hash of their text (corpus/chunking.py), so any change to what the
collection holds (an ingest, a delete, a changed book) changes the key and the index is built
anew: it cannot go stale. Reading the ids costs one Chroma request (20 ms for 10,000 chunks);
loading the kept index, milliseconds.

Words are lowercased runs of two or more letters or digits, in any script, with no stopword list
and no stemmer: a stopword list or stemmer is made for one language, and the books are in many.

Hybrid search fuses the meaning ranking and the keyword ranking by reciprocal rank fusion
(Cormack et al., 2009): a chunk scores the sum of 1 / (60 + rank) over the rankings it is in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from pipeline.errors import UsageError
from pipeline.search.query import Result, question_encoder, search
from tasks.embedding.backend import TextEncoder
from tasks.settings import Settings
from tasks.store import ChunkStore, Hit

MODES = ("meaning", "keyword", "hybrid")
DEFAULT_MODE = "meaning"

# The constant of reciprocal rank fusion: large enough that the first few ranks of either list
# do not swamp the rest (the value of the original paper, used by most search engines).
RRF_K = 60
# Chunks read from Chroma per request while building an index.
PAGE = 2000
# Indexes kept per process (one per collection searched by keyword), and on disk.
KEPT_INDEXES = 4
IDS_FILE = "ids.json"


def check_mode(mode: str) -> str:
    """`mode`, or a one-line UsageError naming the modes there are."""
    if mode not in MODES:
        raise UsageError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def words(texts: Sequence[str]) -> list[list[str]]:
    """The words BM25 counts in each text: lowercased, no stopwords, no stemming."""
    found = bm25s.tokenize(list(texts), lower=True, stopwords=None, return_ids=False,
                           show_progress=False)
    return [list(w) for w in found]


class KeywordIndex:
    """A BM25 index over every chunk of one collection, holding the chunk ids, not their texts."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        self.ids = list(ids)
        self._row = {chunk_id: row for row, chunk_id in enumerate(self.ids)}
        self.bm25 = bm25s.BM25()
        if self.ids:
            self.bm25.index(words(texts), show_progress=False)

    @classmethod
    def build(cls, store: ChunkStore) -> KeywordIndex:
        """The index of every chunk `store` holds, read from Chroma a page at a time."""
        ids: list[str] = []
        texts: list[str] = []
        while True:
            page = store.collection.get(limit=PAGE, offset=len(ids), include=["documents"])
            ids.extend(page["ids"])
            texts.extend(t or "" for t in page["documents"] or [])
            if len(page["ids"]) < PAGE:
                return cls(ids, texts)

    def save(self, directory: Path) -> None:
        """Write the index to `directory` (made whole or not at all: written aside, then moved)."""
        # A cache: when it cannot be written (another process kept it first, a read-only or
        # full disk) the search goes on with the index in memory.
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            aside = Path(tempfile.mkdtemp(prefix=".building-", dir=directory.parent))
        except OSError:
            return
        try:
            self.bm25.save(str(aside), show_progress=False)
            (aside / IDS_FILE).write_text(json.dumps(self.ids))
            os.replace(aside, directory)
        except OSError:
            shutil.rmtree(aside, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex | None:
        """The index saved in `directory`, or None when there is none (or it is unreadable)."""
        try:
            ids = json.loads((directory / IDS_FILE).read_text())
            bm25 = bm25s.BM25.load(str(directory), show_progress=False)
        except (OSError, ValueError):
            return None
        index = cls([], [])
        index.ids, index.bm25 = ids, bm25
        index._row = {chunk_id: row for row, chunk_id in enumerate(ids)}
        return index

    def rank(
        self, text: str, k: int, allowed: Iterable[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and BM25 scores of the `k` best chunks sharing a word with `text`, best first;
        with `allowed`, only chunks among those ids (read once, in any order)."""
        known = [self.bm25.vocab_dict[w] for w in words([text])[0] if w in self.bm25.vocab_dict]
        if not self.ids or not known:
            return []
        scores = np.asarray(self.bm25.get_scores_from_ids(known), dtype=np.float64)
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            for chunk_id in allowed:
                row = self._row.get(chunk_id)
                if row is not None:
                    mask[row] = True
            scores = np.where(mask, scores, 0.0)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self.ids[row], float(scores[row])) for row in best if scores[row] > 0]


_INDEXES: OrderedDict[tuple[str, str, int], KeywordIndex] = OrderedDict()
_INDEX_LOCK = threading.Lock()


def keyword_index(store: ChunkStore, cache_dir: Path | None = None) -> KeywordIndex:
    """The BM25 index of `store`'s collection, built once per collection and chunk count in
    this process; with `cache_dir`, kept there too and read back by the next process."""
    key = (str(store.collection.id), store.collection.name, store.count())
    # One lock for building too: two threads asking at once build the index once.
    with _INDEX_LOCK:
        if key not in _INDEXES:
            _INDEXES[key] = _kept_or_built(store, cache_dir)
            while len(_INDEXES) > KEPT_INDEXES:
                _INDEXES.popitem(last=False)
        _INDEXES.move_to_end(key)
        return _INDEXES[key]


def _kept_or_built(store: ChunkStore, cache_dir: Path | None) -> KeywordIndex:
    if cache_dir is None:
        return KeywordIndex.build(store)
    directory = cache_dir / "keyword" / index_key(store)
    kept = KeywordIndex.load(directory)
    if kept is not None:
        return kept
    built = KeywordIndex.build(store)
    if built.ids:
        built.save(directory)
        _prune(directory.parent)
    return built


def index_key(store: ChunkStore) -> str:
    """A name for the collection's current contents: its id, name, chunk count and a digest of
    every chunk id (ids hold their text's hash, so any change of contents changes it)."""
    ids = sorted(store.collection.get(include=[])["ids"])
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    return f"{store.collection.name}-{store.collection.id}-{len(ids)}-{digest}"


def _prune(directory: Path) -> None:
    """Keep the KEPT_INDEXES most recently written indexes in `directory`."""
    try:
        kept = sorted((p for p in directory.iterdir() if not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:  # another process pruned the same directory meanwhile
        return
    for old in kept[KEPT_INDEXES:]:
        shutil.rmtree(old, ignore_errors=True)


def keyword_hits(
    store: ChunkStore, text: str, k: int, where: dict[str, Any] | None = None,
    cache_dir: Path | None = None,
) -> list[Hit]:
    """The `k` chunks that best match the words of `text` among those `where` matches, best
    first; a Hit's score is its BM25 score. `cache_dir`: where the index is kept on disk."""
    index = keyword_index(store, cache_dir)
    # The ids `where` matches are read a page at a time into a mask over the index, never held
    # all at once: a filter matching a million chunks costs a long-lived reader one page.
    ranked = index.rank(text, k, store.iter_ids(where) if where else None)
    return _hits(store, ranked)


def fuse(rankings: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
    """The `k` best chunks of several rankings by reciprocal rank fusion; a Hit's score is its
    fused score, the sum of 1 / (60 + rank) over the rankings it is in."""
    fused: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(hit.id, hit)
    best = sorted(fused, key=lambda chunk_id: -fused[chunk_id])[:k]
    return [Hit(id=i, score=fused[i], text=first[i].text, metadata=first[i].metadata)
            for i in best]


def fusion_depth(k: int) -> int:
    """How many chunks of each ranking hybrid search fuses to return `k`."""
    return max(50, 5 * k)


def hybrid_hits(
    store: ChunkStore, vector: np.ndarray, text: str, k: int,
    where: dict[str, Any] | None = None, cache_dir: Path | None = None,
) -> list[Hit]:
    """The `k` best chunks by meaning (`vector`) and by the words of `text`, fused."""
    depth = min(fusion_depth(k), store.count())
    meaning = store.search(vector, depth, where=where)
    return fuse([meaning, keyword_hits(store, text, depth, where, cache_dir)], k)


def search_in_mode(
    store: ChunkStore, settings: Settings, text: str, k: int, mode: str = DEFAULT_MODE, *,
    where: dict[str, Any] | None = None, embedder: TextEncoder | None = None,
) -> list[Result]:
    """`search` by meaning, by keyword or both (`mode`): the `k` best chunks, best first.

    Scores: cosine similarity (meaning), BM25 (keyword), reciprocal rank fusion (hybrid).
    Keyword search loads no model.
    """
    if check_mode(mode) == "meaning":
        return search(store, settings, text, k, where=where, embedder=embedder)
    if store.count() == 0:
        return []
    if mode == "keyword":
        hits = keyword_hits(store, text, k, where, settings.cache_dir)
    else:
        vector = (embedder or question_encoder(settings)).encode([text])[0]
        hits = hybrid_hits(store, vector, text, k, where, settings.cache_dir)
    return [Result.from_hit(i + 1, hit) for i, hit in enumerate(hits)]


def _hits(store: ChunkStore, ranked: list[tuple[str, float]]) -> list[Hit]:
    if not ranked:
        return []
    found = store.collection.get(ids=[i for i, _ in ranked], include=["documents", "metadatas"])
    texts = dict(zip(found["ids"], found["documents"] or [], strict=True))
    metadatas = dict(zip(found["ids"], found["metadatas"] or [], strict=True))
    # A chunk deleted since the index was built is left out.
    return [Hit(id=i, score=score, text=texts[i] or "", metadata=dict(metadatas[i] or {}))
            for i, score in ranked if i in texts]
