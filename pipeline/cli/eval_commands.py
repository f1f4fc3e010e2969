"""`ragmill eval`: how well a collection retrieves the answers to questions with known answers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.cli.output import console, fail, load_settings, one_line_errors, out
from pipeline.cli.read_commands import collection_option, data_dir_option, mode_option
from pipeline.eval import (
    EvalResult,
    Question,
    QuestionsError,
    Retrieved,
    compare,
    evaluate,
    load_questions,
    render_comparison,
    render_result,
)
from pipeline.eval.collection import evaluate_store
from pipeline.search.keyword import DEFAULT_MODE, check_mode, hybrid_hits, keyword_hits
from pipeline.stack.collection import chroma_for, open_reader
from tasks.settings import Settings
from tasks.store import ChunkStore

BUNDLED_QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "gutenberg_questions.jsonl"


def parse_ks(raw: str) -> list[int]:
    """`--k 1,5,10` as sorted, distinct whole numbers from 1 to 100."""
    try:
        ks = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter(f"{raw!r}: give whole numbers separated by commas") from None
    if not ks or ks[0] < 1 or ks[-1] > 100:
        raise click.BadParameter(f"{raw!r}: give whole numbers from 1 to 100")
    return ks


def read_questions(path: Path | None) -> tuple[Path, list[Question]]:
    """The questions of `path`, or of the bundled Gutenberg set when none is given."""
    chosen = path or BUNDLED_QUESTIONS
    try:
        return chosen, load_questions(chosen)
    except QuestionsError as exc:
        fail(str(exc), 2)


def evaluate_mode(
    store: ChunkStore, settings: Settings, questions: list[Question], ks: list[int], mode: str
) -> tuple[EvalResult, dict[str, str]]:
    """Scores and book titles of keyword or hybrid search, asked as `ragmill query` asks."""
    from pipeline.stack.collection import reader_embedder

    texts = list(dict.fromkeys(q.question for q in questions))
    vectors = (dict(zip(texts, reader_embedder(store, settings).encode(texts), strict=True))
               if mode == "hybrid" else {})
    titles: dict[str, str] = {}

    def search(text: str, k: int) -> list[Retrieved]:
        hits = (hybrid_hits(store, vectors[text], text, k) if mode == "hybrid"
                else keyword_hits(store, text, k))
        for hit in hits:
            titles.setdefault(str(hit.metadata.get("book_id", "")),
                              str(hit.metadata.get("title", "")))
        return [Retrieved(id=h.id, text=h.text, book_id=str(h.metadata.get("book_id", "")))
                for h in hits]

    return evaluate(questions, search, ks), titles


def evaluate_collection(
    store: ChunkStore, settings: Settings, questions: list[Question], ks: list[int],
    mode: str = DEFAULT_MODE,
) -> tuple[EvalResult, dict[str, str], str]:
    """Scores, book titles and the backend the questions were embedded with."""
    from pipeline.stack.collection import reader_embedder

    if store.count() == 0:
        fail(
            f"collection '{store.collection.name}' holds no chunks; ingest the books the "
            f"questions are about into it first (ragmill ingest ... --collection "
            f"{store.collection.name})"
        )
    if mode != "meaning":
        result, titles = evaluate_mode(store, settings, questions, ks, mode)
        return result, titles, "bm25" if mode == "keyword" else f"{settings.embed_backend}+bm25"
    embedder = reader_embedder(store, settings)
    result, titles = evaluate_store(store, embedder, questions, ks)
    return result, titles, embedder.backend


@click.command(name="eval")
@click.argument("questions_file", required=False, type=click.Path(path_type=Path))
@click.option("--k", "k_list", default="1,5,10", show_default=True,
              help="Recall cut-offs, comma-separated (MRR is always @10).")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--compare", "other", metavar="COLLECTION",
              help="Also score this collection and pair the two question by question.")
@data_dir_option
@collection_option
@mode_option
def eval_command(
    questions_file: Path | None,
    k_list: str,
    as_json: bool,
    other: str | None,
    data_dir: Path | None,
    collection: str | None,
    mode: str,
) -> None:
    """Score retrieval over a collection: recall@k and MRR@10, overall and per book.

    QUESTIONS_FILE holds one JSON object a line: {"question": ..., "answer": "a verbatim
    quote"} or {"question": ..., "chunk_ids": [...]}, with optional "id" and "book". Without
    it, the bundled set of 140 questions over 47 Project Gutenberg books is used.

    \b
      ragmill eval my-questions.jsonl --collection books
      ragmill eval --collection fp32 --compare int8     # paired: found by one only, both
      ragmill eval --collection books --mode hybrid     # keyword and meaning fused
    """
    ks = parse_ks(k_list)
    with one_line_errors():
        check_mode(mode)
    settings = load_settings(data_dir, collection=collection)
    path, questions = read_questions(questions_file)
    with one_line_errors(), chroma_for(settings) as reachable:
        url = str(reachable.chroma_url)
        # Both are opened before either is scored: a mistyped name is refused at once.
        store = open_reader(url, settings.collection)
        other_store = None if other is None else open_reader(
            url, load_settings(collection=other).collection, client=store.client)
        result, titles, backend = evaluate_collection(store, settings, questions, ks, mode)
        second = None
        if other_store is not None:
            second = evaluate_collection(other_store, settings, questions, ks, mode)
    name = settings.collection
    if as_json:
        report: dict[str, Any] = {
            "questions_file": str(path),
            "collection": name,
            "mode": mode,
            "backend": backend,
            **result.as_dict(),
        }
        if second is not None:
            report["compare"] = {
                "collection": other,
                "backend": second[2],
                **second[0].as_dict(),
                "paired": compare(result, second[0], ks).as_dict()["paired"],
            }
        out.print_json(json.dumps(report))
        sys.exit(0)
    console.print(f"{len(questions)} questions from {path}; collection '{name}' ({backend})")
    out.print(render_result(result, titles), markup=False, highlight=False)
    if second is not None:
        out.print()
        out.print(f"'{name}' ({backend}) against '{other}' ({second[2]}):", markup=False)
        out.print(render_comparison(compare(result, second[0], ks), name, str(other)),
                  markup=False, highlight=False)
