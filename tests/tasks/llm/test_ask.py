"""Answer prompts and citations: only passages that were retrieved count as sources."""

from __future__ import annotations

from pipeline.ingest.progress_bar import llm_progress
from pipeline.search.answers import answer_messages, answer_question, cited_sources
from pipeline.search.query import Result
from tasks.ledger import Snapshot


def result(book: str, position: int, text: str = "text") -> Result:
    return Result(rank=1, score=0.9, book_id=book, title=f"Title {book}", author="A. Author",
                  position=position, chunk_id=f"{book}:{position:05d}:abc", text=text)


RESULTS = [result("84", 12, "Henry Clerval was my friend."), result("84", 40), result("1342", 3)]


def test_the_prompt_labels_every_passage_and_ends_with_the_question() -> None:
    messages = answer_messages("Who is the friend?", RESULTS)
    user = messages[-1]["content"]
    assert "[84:12] Title 84 by A. Author\nHenry Clerval was my friend." in user
    assert "[1342:3]" in user
    assert user.endswith("Question: Who is the friend?")


def test_citations_keep_order_drop_repeats_and_report_unknown_labels() -> None:
    cited, unknown = cited_sources("Clerval [84:12], again [84:12], see [1342:3] and [99:1].",
                                   RESULTS)
    assert [(r.book_id, r.position) for r in cited] == [("84", 12), ("1342", 3)]
    assert unknown == ["99:1"]


def test_an_answer_without_citations_has_no_sources() -> None:
    answer = answer_question("Who?", RESULTS, lambda messages: "I cannot tell.")
    assert answer.cited == [] and answer.unknown == []
    assert answer.as_dict()["answer"] == "I cannot tell."


def test_the_progress_bar_shows_llm_work_only_when_there_is_some() -> None:
    assert llm_progress(Snapshot()) == ""
    s = Snapshot(contexts_wanted=40, contexts_done=10, contexts_failed=2)
    assert llm_progress(s) == "llm 12/40, 2 failed"
