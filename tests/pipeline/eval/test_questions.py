"""Loading a questions file, and the one-line errors a bad line gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.eval.questions import Question, QuestionsError, load_questions

GOOD = {"id": "q1", "book": "84", "question": "Who made the creature?", "answer": "a quote"}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_quote_and_chunk_id_questions_and_skips_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        json.dumps(GOOD),
        "",
        json.dumps({"question": "Which chunk?", "chunk_ids": ["84:00001:abc"], "book": 84}),
        json.dumps({"question": "¿Quién?", "answer": "cita", "language": "es"}),
    )
    questions = load_questions(path)
    assert questions[0] == Question(
        id="q1", question="Who made the creature?", answer="a quote", book="84"
    )
    # A missing id becomes the line number; a numeric book its string.
    assert (questions[1].id, questions[1].chunk_ids, questions[1].book) == (
        "line3",
        ("84:00001:abc",),
        "84",
    )
    assert questions[2].language == "es"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r":2: not valid JSON"),
        ('["a list"]', r":2: expected a JSON object, got list"),
        (json.dumps({"answer": "x"}), r':2: missing "question"'),
        (json.dumps({"question": "  ", "answer": "x"}), r':2: "question" must be a non-empty'),
        (json.dumps({"question": "q?"}), r':2: needs an "answer" quote or a "chunk_ids" list'),
        (json.dumps({"question": "q?", "answer": 5}), r':2: "answer" must be a non-empty string'),
        (json.dumps({"question": "q?", "chunk_ids": "84:1"}), r':2: "chunk_ids" must be'),
        (json.dumps({"question": "q?", "chunk_ids": []}), r':2: "chunk_ids" must be'),
        (json.dumps({"question": "q?", "anwser": "x"}), r":2: unknown field 'anwser'"),
        (json.dumps({**GOOD, "book": ["84"]}), r':2: "book" must be a non-empty string'),
        (json.dumps(GOOD), r":2: id 'q1' is already used on line 1"),
    ],
)
def test_bad_line_fails_with_one_line_naming_file_and_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write(tmp_path, json.dumps(GOOD), line)
    with pytest.raises(QuestionsError, match=message) as caught:
        load_questions(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:2: ")
    assert "\n" not in text


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QuestionsError, match="holds no questions"):
        load_questions(write(tmp_path, "", "  "))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(QuestionsError, match=r"nope\.jsonl: no such file"):
        load_questions(tmp_path / "nope.jsonl")
