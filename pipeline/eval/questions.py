"""Reading a questions file: one JSON object per line, each a question and what answers it.

A line names its answer as a verbatim ``"answer"`` quote from the book, as ``"chunk_ids"``
(ids of the chunks that answer it), or both (either one counts). ``"id"``, ``"book"`` and
``"language"`` are optional. Blank lines are skipped. A bad line stops the load with one line
naming ``file:line`` and what is wrong with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Question", "QuestionsError", "load_questions", "parse_questions"]

_FIELDS = frozenset({"id", "question", "answer", "chunk_ids", "book", "language"})


class QuestionsError(ValueError):
    """A questions file that cannot be read or has a line that is not a valid question."""


@dataclass(frozen=True, kw_only=True)
class Question:
    """One question and what retrieval must find to answer it."""

    id: str
    question: str
    answer: str | None = None
    chunk_ids: tuple[str, ...] = ()
    book: str | None = None
    language: str | None = None


def load_questions(path: Path) -> list[Question]:
    """Read and validate every question in a JSONL file; raise QuestionsError on a bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QuestionsError(f"{path}: no such file; pass a questions .jsonl file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionsError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    return parse_questions(text.splitlines(), source=str(path))


def parse_questions(lines: Iterable[str], *, source: str) -> list[Question]:
    """Validate JSONL lines into questions; ``source`` names them in error messages."""
    questions: list[Question] = []
    first_line_of: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        question = _parse_line(line, where, number)
        if question.id in first_line_of:
            raise QuestionsError(
                f"{where}: id {question.id!r} is already used on line "
                f"{first_line_of[question.id]}; give each question its own id"
            )
        first_line_of[question.id] = number
        questions.append(question)
    if not questions:
        raise QuestionsError(f"{source}: holds no questions; write one JSON object per line")
    return questions


def _parse_line(line: str, where: str, number: int) -> Question:
    """One line as a Question, or QuestionsError saying what is wrong with it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise QuestionsError(
            f"{where}: not valid JSON ({error.msg}, column {error.colno})"
        ) from None
    if not isinstance(record, dict):
        raise QuestionsError(f"{where}: expected a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise QuestionsError(
            f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_FIELDS))}"
        )
    question = _text(record, "question", where, required=True)
    answer = _text(record, "answer", where, required=False)
    chunk_ids = _chunk_ids(record, where)
    if answer is None and not chunk_ids:
        raise QuestionsError(f'{where}: needs an "answer" quote or a "chunk_ids" list')
    return Question(
        id=_text(record, "id", where, required=False) or f"line{number}",
        question=question or "",
        answer=answer,
        chunk_ids=chunk_ids,
        book=_book(record, where),
        language=_text(record, "language", where, required=False),
    )


def _text(record: dict[str, Any], field: str, where: str, *, required: bool) -> str | None:
    """A field that must be a non-blank string when present."""
    value = record.get(field)
    if value is None:
        if required:
            raise QuestionsError(f'{where}: missing "{field}"')
        return None
    if not isinstance(value, str) or not value.strip():
        raise QuestionsError(f'{where}: "{field}" must be a non-empty string, got {value!r}')
    return value


def _chunk_ids(record: dict[str, Any], where: str) -> tuple[str, ...]:
    """The ``chunk_ids`` field: a non-empty list of non-empty strings, when present."""
    value = record.get("chunk_ids")
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise QuestionsError(
            f'{where}: "chunk_ids" must be a non-empty list of chunk id strings, got {value!r}'
        )
    return tuple(value)


def _book(record: dict[str, Any], where: str) -> str | None:
    """The ``book`` field; a bare Gutenberg number is accepted and kept as its string."""
    value = record.get("book")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    return _text(record, "book", where, required=False)
