"""What made a collection's vectors, kept in the collection itself, and the check that refuses
to mix vector spaces.

A `CollectionRecord` names the model (and a fingerprint of its files), the backend and its
quantisation, the dimension, whether vectors are unit length, and the chunk settings. It lives
in the Chroma collection's metadata under `ragmill:`-prefixed keys, beside Chroma's own
(`hnsw:space`), so every process that reaches the collection reads the same record.

Who checks what:
- the ingest client, once per run (`claim`): writes the record into a collection that has
  none and no chunks; otherwise refuses any difference, chunk settings included;
- the embed worker, before storing a batch (`WorkerCheck`, cached per collection): refuses a
  different vector space, so a worker configured unlike the client never mixes vectors in;
- readers (query, ask, eval; `check_reader`): refuse a different vector space.

A collection with chunks and no record was made before records existed: it is taken as fp32
ONNX of the configured model (`legacy`), what ragmill wrote by default then.

Forms of one file that differ only in the float precision the runtime computes in (OpenVINO's
static int8 with its float parts in f32 or bf16, which `default_variant` picks by the CPU's flags)
are one vector space (`same_form_family`): their vectors of the same text agree to a cosine of
0.9996 on average and 0.9988 at worst on 497 real chunks, seven times closer than fp32 is to int8
(0.9972 / 0.9945), so machines of different CPU generations write one collection on defaults.
Another file (fp32 against int8, dynamic against static int8) is another space and is refused.

Chroma (1.x) replaces the whole metadata on `collection.modify(metadata=...)` and refuses a
metadata that names `hnsw:space` again, even unchanged ("changing the distance function ... is
not supported"); the distance lives on in the collection's configuration. So a write keeps every
key that is not Chroma's or ragmill's, drops the `hnsw:` ones and adds the record's.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

from tasks.embedding.backend import EmbeddingBackend
from tasks.errors import TaskError
from tasks.settings import EMBED_BACKENDS, ONNX_BACKENDS, Settings, default_model

__all__ = [
    "BACKEND_KEY",
    "MODEL_KEY",
    "PREFIX",
    "QUANTISATION_KEY",
    "RECORD_VERSION",
    "CollectionRecord",
    "RecordMismatch",
    "WorkerCheck",
    "check_reader",
    "claim",
    "expected_record",
    "model_fingerprint",
    "read_record",
    "recorded_form",
    "same_form_family",
    "write_record",
]

PREFIX = "ragmill:"
RECORD_VERSION = 1
# The metadata keys other tools and readers look up directly (CollectionRecord.as_metadata).
MODEL_KEY, BACKEND_KEY = PREFIX + "model", PREFIX + "backend"
QUANTISATION_KEY = PREFIX + "quantisation"
# Fields that decide the vector space; chunk settings only shape what is embedded.
VECTOR_SPACE = ("model_fingerprint", "backend", "quantisation", "dimension", "normalised")
# Files of a model directory that are exports made from it, or prose: not what defines it.
_NOT_MODEL = ("onnx", "openvino", ".git", "__pycache__")


class RecordMismatch(TaskError, ValueError):
    """A collection's vectors were made otherwise than this process would make them."""


@dataclass(frozen=True, kw_only=True)
class CollectionRecord:
    """What made a collection's vectors.

    `backend` is torch, onnx or onnx-int8 (or a remote endpoint such as openai, whose
    fingerprint is the endpoint's model name); `quantisation` is fp32 or the int8 scheme.
    """

    model: str
    model_fingerprint: str
    backend: str
    quantisation: str
    dimension: int
    normalised: bool
    chunk_tokens: int
    chunk_overlap: int
    version: int = RECORD_VERSION

    def as_metadata(self) -> dict[str, str | int | bool]:
        return {PREFIX + key: value for key, value in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None) -> CollectionRecord | None:
        """The record in a collection's metadata, or None when it holds none (or a broken one)."""
        values = {
            key[len(PREFIX):]: value
            for key, value in (metadata or {}).items()
            if key.startswith(PREFIX)
        }
        names = {f.name for f in fields(cls)}
        if not values or not names <= set(values):
            return None
        return cls(**{name: values[name] for name in names})

    def describe(self) -> str:
        """One phrase: model, fingerprint, backend and quantisation, dimension, chunking."""
        return (
            f"{self.model} [{self.model_fingerprint[:12]}] {self.backend} {self.quantisation}, "
            f"{self.dimension} dimensions{', unit length' if self.normalised else ''}, "
            f"chunks of {self.chunk_tokens} tokens overlapping {self.chunk_overlap}"
        )

    def differences(self, other: CollectionRecord, *, vector_space_only: bool) -> list[str]:
        names = VECTOR_SPACE if vector_space_only else (
            *VECTOR_SPACE, "chunk_tokens", "chunk_overlap"
        )
        return [name for name in names if not self._agrees(other, name)]

    def _agrees(self, other: CollectionRecord, name: str) -> bool:
        if name == "quantisation" and self.backend == other.backend:
            return same_form_family(self.backend, self.quantisation, other.quantisation)
        return bool(getattr(self, name) == getattr(other, name))


def same_form_family(backend: str, first: str, second: str) -> bool:
    """True if variants `first` and `second` of `backend` make one vector space: the same file
    run the same way, differing at most in the float precision of what stays float."""
    if first == second:
        return True
    if backend not in ONNX_BACKENDS:
        return False
    from tasks.embedding.variants import all_variants

    variants = all_variants()
    one, two = variants.get(first), variants.get(second)
    if one is None or two is None:
        return False
    # Everything that shapes a vector but the float precision must match: file, recipe,
    # runtime, padding and texts per run.
    return bool(_without_precision(one) == _without_precision(two))


def _without_precision(variant: Any) -> Any:
    return replace(variant, name="", description="", float_precision="")


def quantisation_of(backend: str, variant: str = "") -> str:
    """The numeric form a backend's model runs in: the variant's name for the ONNX backends
    (fp32, int8-dynamic-avx512_vnni, ...), fp32 for the others."""
    if backend not in ONNX_BACKENDS:
        return "fp32"
    from tasks.embedding.variants import resolve

    return resolve(backend, variant or None).name


def model_name(model: str) -> str:
    if Path(model).expanduser().resolve() == Path(default_model()).resolve():
        return "all-MiniLM-L6-v2"
    return Path(model).name or model


@cache
def _fingerprint(directory: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for relative, _, _ in stamp:
        digest.update(relative.encode() + b"\0")
        with open(Path(directory) / relative, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:32]


def model_fingerprint(model: str) -> str:
    """A hash of the model's files (weights, config, tokenizer), read without loading it.

    Exports made from the model (onnx/, openvino/) and its README are left out: they do not
    define it. A name that is not a local directory (a hub name) is its own fingerprint.
    Computed once per process and set of file sizes and times.
    """
    directory = Path(model).expanduser().resolve()
    if not directory.is_dir():
        return f"name:{model}"
    stamp = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if not path.is_file() or relative.parts[0] in _NOT_MODEL or path.suffix == ".md":
            continue
        stat = path.stat()
        stamp.append((str(relative), stat.st_size, int(stat.st_mtime)))
    return _fingerprint(str(directory), tuple(stamp))


def model_dimension(model: str) -> int:
    """The length of the model's vectors from its sentence-transformers files (0 if unknown).

    The last Dense module decides it; without one, the Pooling module's width times its pooling
    modes.
    """
    directory = Path(model).expanduser()
    try:
        modules = json.loads((directory / "modules.json").read_text())
        dimension = 0
        for module in modules:
            config = directory / module["path"] / "config.json"
            if module["type"].endswith(".Dense"):
                dimension = int(json.loads(config.read_text())["out_features"])
            elif module["type"].endswith(".Pooling"):
                pooling = json.loads(config.read_text())
                modes = sum(1 for k, v in pooling.items() if k.startswith("pooling_mode") and v)
                dimension = int(pooling["word_embedding_dimension"]) * max(modes, 1)
        return dimension
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def expected_record(settings: Settings) -> CollectionRecord:
    """The record of the vectors this process would make with `settings`."""
    return CollectionRecord(
        model=model_name(settings.model),
        model_fingerprint=model_fingerprint(settings.model),
        backend=settings.embed_backend,
        quantisation=quantisation_of(settings.embed_backend, settings.embed_variant),
        dimension=EmbeddingBackend.from_settings(settings).record_dimension(),
        # Every backend of tasks/embedding returns unit-length vectors.
        normalised=True,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
    )


def legacy(expected: CollectionRecord) -> CollectionRecord:
    """What a collection without a record is taken to hold: fp32 ONNX of the configured model."""
    return replace(expected, backend="onnx", quantisation="fp32")


def fresh(store: Any) -> Any:
    """The store's collection as Chroma holds it now: a long-lived process's handle keeps the
    metadata it was opened with."""
    return store.client.get_collection(store.collection.name, embedding_function=None)


def read_record(collection: Any) -> CollectionRecord | None:
    """The record of a Chroma collection, or None."""
    return CollectionRecord.from_metadata(collection.metadata)


def write_record(collection: Any, record: CollectionRecord) -> None:
    """Put `record` into the collection's metadata, keeping what is neither Chroma's nor ours."""
    kept = {
        key: value
        for key, value in (collection.metadata or {}).items()
        if not key.startswith(("hnsw:", PREFIX))
    }
    collection.modify(metadata={**kept, **record.as_metadata()})


def mismatch_message(
    name: str, stored: CollectionRecord, wanted: CollectionRecord, differing: list[str],
    *, recorded: bool = True,
) -> str:
    """One line: what the collection holds, what this process would make, and what to do."""
    held = stored.describe() if recorded else f"{stored.describe()} (no record: taken as fp32 ONNX)"
    if {"backend", "quantisation"} & set(differing) and "model_fingerprint" not in differing:
        fix = f"set EMBED_BACKEND={stored.backend}"
        if stored.backend in ONNX_BACKENDS and stored.quantisation != quantisation_of(
            stored.backend
        ):
            fix += f" EMBED_VARIANT={stored.quantisation}"
    elif "model_fingerprint" in differing or "dimension" in differing:
        fix = f"set EMBED_MODEL to the model it was made with ({stored.model})"
    else:
        fix = (f"set RAGMILL_CHUNK_TOKENS={stored.chunk_tokens} "
               f"RAGMILL_CHUNK_OVERLAP={stored.chunk_overlap}")
    return (
        f"collection '{name}' holds vectors of {held}; this process would use {wanted.describe()} "
        f"({', '.join(differing)} differ); {fix} (on every worker too), or use a new collection "
        f"(--collection or RAGMILL_COLLECTION)"
    )


def _check(store: Any, wanted: CollectionRecord, *, vector_space_only: bool) -> bool:
    """Raise RecordMismatch unless the store holds `wanted`'s vectors; True if it has a record."""
    recorded = read_record(fresh(store))
    stored = recorded
    if stored is None:
        if store.count() == 0:
            return False
        stored = legacy(wanted)
    differing = stored.differences(wanted, vector_space_only=vector_space_only)
    if differing:
        raise RecordMismatch(mismatch_message(
            store.collection.name, stored, wanted, differing, recorded=recorded is not None
        ))
    return recorded is not None


def claim(store: Any, settings: Settings) -> CollectionRecord:
    """Before an ingest: check the collection against `settings` (chunk settings too) and
    write the record where there is none yet. Raises RecordMismatch."""
    wanted = expected_record(settings)
    if not _check(store, wanted, vector_space_only=False):
        write_record(fresh(store), wanted)
    return wanted


def check_reader(store: Any, settings: Settings) -> None:
    """Before a query: raise RecordMismatch unless `settings` embed into the store's space."""
    _check(store, expected_record(settings), vector_space_only=True)


def recorded_form(store: Any, settings: Settings) -> tuple[str, str]:
    """The backend and variant that embed questions into the store's space: the ones its record
    names (the model must be the configured one); fp32 onnx for a collection without a record.
    The variant is empty for backends that have none (torch)."""
    record = read_record(fresh(store))
    backend, variant = (record.backend, record.quantisation) if record else ("onnx", "fp32")
    if backend not in EMBED_BACKENDS:
        raise RecordMismatch(
            f"collection '{store.collection.name}' holds vectors of {record and record.describe()}"
            f"; ragmill embeds locally with {', '.join(EMBED_BACKENDS)} only"
        )
    if backend not in ONNX_BACKENDS:
        variant = ""
    check_reader(store, replace(settings, embed_backend=backend, embed_variant=variant))
    return backend, variant


class WorkerCheck:
    """The embed worker's check before it stores: once per collection per process.

    A collection that passed is not read again (a batch costs no extra Chroma round trip); one
    that failed is read again next time, so fixing the setting and retrying works.
    """

    def __init__(self) -> None:
        self._passed: set[str] = set()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __call__(self, store: Any, settings: Settings) -> None:
        name = store.collection.name
        if self._pid != os.getpid():
            self._passed, self._pid = set(), os.getpid()
        if name in self._passed:
            return
        wanted = expected_record(settings)
        if not _check(store, wanted, vector_space_only=True):
            # A client that could not reach Chroma wrote none; the first writer records it.
            write_record(fresh(store), wanted)
        with self._lock:
            self._passed.add(name)
