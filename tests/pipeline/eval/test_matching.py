"""Whether a retrieved chunk answers a question: by id, by the whole quote, by a cut quote."""

from __future__ import annotations

from pipeline.eval.matching import MIN_PART_WORDS, Retrieved, answers, normalise
from pipeline.eval.questions import Question

QUOTE = "the quick brown fox jumps over the lazy dog near the river bank"  # 13 words


def question(
    answer: str | None = QUOTE, book: str | None = "84", chunk_ids: tuple[str, ...] = ()
) -> Question:
    return Question(id="q1", question="what jumped?", answer=answer, book=book, chunk_ids=chunk_ids)


def chunk(text: str, book_id: str = "84", chunk_id: str = "84:00001:abc") -> Retrieved:
    return Retrieved(id=chunk_id, text=text, book_id=book_id)


def test_normalise_folds_case_whitespace_typographic_quotes_and_dashes() -> None:
    assert (
        normalise("\u201cIt\u2019s  ME\u201d \u2014 she\n said\u2013no")
        == '"it\'s me" - she said-no'
    )


def test_whole_quote_matches_across_line_wraps_case_and_curly_quotes() -> None:
    q = question(answer="\u201cThis is Bill,\u201d she gave one sharp kick")
    text = 'then, saying to herself "this is\nBILL," she gave one  sharp kick, and waited'
    assert answers(q, chunk(text))


def test_whole_quote_matches_in_a_chunk_of_another_book() -> None:
    # The quote itself is the evidence; the book only matters for a cut quote.
    assert answers(question(), chunk(f"before {QUOTE} after", book_id="11"))


def test_chunk_without_the_quote_does_not_answer() -> None:
    assert not answers(question(), chunk("the quick brown fox sleeps all day"))


def test_chunk_id_answers_even_when_the_text_does_not_hold_the_quote() -> None:
    q = question(answer=None, chunk_ids=("84:00007:def",))
    assert answers(q, chunk("unrelated text", chunk_id="84:00007:def"))
    assert not answers(q, chunk("unrelated text", chunk_id="84:00008:fed"))


def test_chunk_ending_with_the_quotes_first_half_answers() -> None:
    head = " ".join(QUOTE.split()[:7])  # 7 of 13 words
    assert answers(question(), chunk(f"Some earlier sentence. And then {head}"))


def test_chunk_starting_with_the_quotes_second_half_answers() -> None:
    tail = " ".join(QUOTE.split()[-7:])
    assert answers(question(), chunk(f"{tail}. The next sentence goes on."))


def test_chunk_holding_less_than_half_of_a_cut_quote_does_not_answer() -> None:
    head = " ".join(QUOTE.split()[:6])  # 6 of 13: under half
    assert not answers(question(), chunk(f"Some earlier sentence. And then {head}"))


def test_cut_quote_counts_only_in_the_questions_book() -> None:
    head = " ".join(QUOTE.split()[:10])
    assert not answers(question(), chunk(f"Earlier. {head}", book_id="11"))
    assert not answers(question(book=None), chunk(f"Earlier. {head}"))


def test_part_of_the_quote_inside_a_chunk_but_not_at_its_edge_does_not_answer() -> None:
    head = " ".join(QUOTE.split()[:10])
    assert not answers(question(), chunk(f"Earlier. {head} and then something else entirely."))


def test_cut_quote_ignores_a_closing_quote_mark_left_on_the_other_side_of_the_cut() -> None:
    q = question(
        answer="\u201cGo home now, all of you,\u201d he said, and the crowd slowly went away"
    )
    assert answers(q, chunk("The mayor stood up. \u201cGo home now, all of you,\u201d he said,"))


def test_a_short_quote_needs_at_least_the_minimum_part() -> None:
    short = "one two three four five six"  # half is 3, the minimum is higher
    assert MIN_PART_WORDS > 3
    q = question(answer=short)
    assert not answers(q, chunk("Earlier words here. one two three"))
    assert answers(q, chunk("Earlier words here. one two three four"))
