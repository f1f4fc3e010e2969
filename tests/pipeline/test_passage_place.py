"""A passage's chapter and pages go into Chroma's metadata and come back out for a reader."""

from __future__ import annotations

from pipeline.search.answers import answer_messages
from pipeline.search.query import Result
from tasks.embed import chunk_metadata
from tasks.messages import BookInfo, ChunkItem
from tasks.store import Hit

BOOK = BookInfo(book_id="84", title="Frankenstein", author="Mary Shelley", language="en",
                source="frankenstein.pdf")


def stored(chunk: ChunkItem) -> Result:
    return Result.from_hit(1, Hit(id=chunk.id, score=0.9, text=chunk.text,
                                  metadata=chunk_metadata(BOOK, chunk)))


def test_a_pdf_passage_shows_its_chapter_and_page() -> None:
    chunk = ChunkItem(id="84:1", position=1, text="t", tokens=1, chapter="Letter 4",
                      page_first=12, page_last=12)
    result = stored(chunk)
    assert result.place == "book 84 · Letter 4 · p. 12"
    assert result.as_dict()["page_first"] == 12 and result.as_dict()["chapter"] == "Letter 4"


def test_a_passage_over_a_page_break_shows_both_pages() -> None:
    chunk = ChunkItem(id="84:2", position=2, text="t", tokens=1, chapter="Letter 4",
                      page_first=12, page_last=13)
    assert stored(chunk).place == "book 84 · Letter 4 · pp. 12\u201313"


def test_missing_chapter_and_pages_are_left_out_of_the_metadata() -> None:
    metadata = chunk_metadata(BOOK, ChunkItem(id="84:3", position=3, text="t", tokens=1))
    assert not {"chapter", "page_first", "page_last", "context"} & set(metadata)
    result = Result.from_hit(1, Hit(id="84:3", score=0.9, text="t", metadata=metadata))
    assert result.place == "book 84"
    assert result.page_first is None and result.chapter is None


def test_the_llm_sees_each_source_with_its_chapter_and_pages() -> None:
    chunk = ChunkItem(id="84:1", position=1, text="Dear sister", tokens=2, chapter="Letter 4",
                      page_first=12, page_last=13)
    prompt = answer_messages("Who writes?", [stored(chunk)])[1]["content"]
    assert "[84:1] Frankenstein by Mary Shelley, Letter 4, pp. 12\u201313\nDear sister" in prompt
