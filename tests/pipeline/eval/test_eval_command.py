"""`ragmill eval` end to end: real books ingested by real workers into real Chroma, then scored.

Two real books (Alice in Wonderland and the shortest book of the question set) are served by
the test mirror and ingested by the session's workers; the questions are the bundled ones
about those books plus two whose outcome is certain: a stored chunk's own text (its chunk must
come first) and a quote that is in no book (never found).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.eval import load_questions
from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.support.shared import require_gutenberg_books

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[3]
BUNDLED = REPO / "pipeline" / "eval" / "gutenberg_questions.jsonl"
BOOKS = ("11", "1974")


@pytest.fixture(scope="module")
def ingested(cluster: Cluster) -> str:
    """A collection holding the two real books, ingested through the CLI."""
    folder = require_gutenberg_books()
    for book in BOOKS:
        data = (folder / f"pg{book}.txt").read_bytes()
        cluster.mirror.put(f"cache/epub/{book}/pg{book}.txt", data)
    name = "eval_two_books"
    done = run_cli(["ingest", *BOOKS, "--collection", name, "--json", "--no-progress"],
                   cluster.env(), timeout=600)
    assert done.code == 0, done.stderr
    return name


def write_questions(path: Path, cluster: Cluster, collection: str) -> tuple[int, str]:
    """The bundled questions about BOOKS, plus a chunk's own text and an unfindable quote."""
    lines = [line for line in BUNDLED.read_text().splitlines()
             if json.loads(line)["book"] in BOOKS]
    stored = ChunkStore.connect(cluster.chroma_url, collection).collection.get(
        limit=1, offset=7, include=["documents"])
    chunk_id, chunk_text = stored["ids"][0], (stored["documents"] or [""])[0]
    lines.append(json.dumps({"id": "own-text", "question": chunk_text, "chunk_ids": [chunk_id]}))
    lines.append(json.dumps({"id": "nowhere", "book": "11", "question": "Who flies the airship?",
                             "answer": "the zeppelin rose above the cathedral of Saint Pancras"}))
    path.write_text("\n".join(lines) + "\n")
    return len(lines), chunk_id


def test_eval_scores_a_collection_of_real_books(
    ingested: str, cluster: Cluster, tmp_path: Path
) -> None:
    questions = tmp_path / "q.jsonl"
    count, _ = write_questions(questions, cluster, ingested)
    done = run_cli(["eval", str(questions), "--collection", ingested, "--json"], cluster.env())
    assert done.code == 0, done.stderr
    report = done.json()
    assert isinstance(report, dict)
    ranks = {q["id"]: q["rank"] for q in report["questions"]}
    assert len(ranks) == count
    assert ranks["own-text"] == 1
    assert ranks["nowhere"] is None
    # The bundled questions about these two books are paraphrases: some, not all, are found.
    bundled = [q for q in load_questions(questions) if q.id not in ("own-text", "nowhere")]
    found = sum(1 for q in bundled if ranks[q.id] is not None and ranks[q.id] <= 10)
    assert found >= 1
    overall = report["overall"]
    assert overall["questions"] == count
    assert overall["recall@10"] == pytest.approx((found + 1) / count)
    assert overall["recall@1"] <= overall["recall@5"] <= overall["recall@10"] < 1.0
    assert set(report["per_book"]) == {*BOOKS, "(no book)"}
    assert report["per_book"]["11"]["questions"] == 6  # five bundled and the unfindable one


def test_eval_compares_two_collections_question_by_question(
    ingested: str, cluster: Cluster, tmp_path: Path
) -> None:
    questions = tmp_path / "q.jsonl"
    write_questions(questions, cluster, ingested)
    done = run_cli(["eval", str(questions), "--collection", ingested, "--compare", ingested,
                    "--json", "--k", "1,5"], cluster.env())
    assert done.code == 0, done.stderr
    report = done.json()
    assert isinstance(report, dict)
    found_at_5 = sum(1 for q in report["questions"] if q["rank"] is not None and q["rank"] <= 5)
    paired = {p["k"]: p for p in report["compare"]["paired"]}
    assert set(paired) == {1, 5}
    assert (paired[5]["a_only"], paired[5]["b_only"], paired[5]["both"]) == (0, 0, found_at_5)
    assert "recall@10" not in report["overall"] and "recall@5" in report["overall"]


def test_eval_prints_the_table_and_uses_the_bundled_set_without_a_file(
    ingested: str, cluster: Cluster
) -> None:
    done = run_cli(["eval", "--collection", ingested], cluster.env())
    assert done.code == 0, done.stderr
    assert f"{len(load_questions(BUNDLED))} questions from {BUNDLED}" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["book", "questions", "recall@1", "recall@5", "recall@10", "mrr@10"]
    assert lines[2].split()[:2] == ["all", "140"]
    # Alice is among the stored books, so its row carries its title from the metadata.
    assert any(line.startswith("11 Alice") for line in lines)


def test_a_bad_questions_file_is_one_line_naming_file_and_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    questions = tmp_path / "bad.jsonl"
    questions.write_text('{"question": "Who?", "answer": "someone"}\n{"question": "Where?"\n')
    done = run_cli(["eval", str(questions), "--collection", "eval_bad_file"], cluster.env())
    assert done.code == 2
    assert done.stderr.strip().count("\n") == 0
    assert f"{questions}:2: not valid JSON" in done.stderr


def test_an_empty_collection_is_refused_in_one_line(cluster: Cluster, tmp_path: Path) -> None:
    ChunkStore.connect(cluster.chroma_url, "eval_nothing_here")  # made, as an ingest makes it
    done = run_cli(["eval", "--collection", "eval_nothing_here"], cluster.env())
    assert done.code == 1
    assert "holds no chunks" in done.stderr and done.stderr.strip().count("\n") == 0
