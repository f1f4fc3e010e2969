"""Token-aware chunking: budget, window, overlap, order, coverage and deterministic ids."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from corpus.chunking import Chunk, ChunkConfig, chunk_id, chunk_text
from corpus.segment import paragraphs, sentences

SMALL = ChunkConfig(max_tokens=16, overlap_tokens=0, window=256)


def squashed(text: str) -> str:
    """The text with all whitespace removed, to compare coverage across re-joined words."""
    return "".join(text.split())


def test_chunk_id_is_book_position_and_content_hash() -> None:
    digest = hashlib.sha256(b"hello").hexdigest()[:12]
    assert chunk_id("84", 7, "hello") == f"84:00007:{digest}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tokens": 15}, "max_tokens"),
        ({"overlap_tokens": -1}, "overlap_tokens"),
        ({"max_tokens": 64, "overlap_tokens": 32}, "overlap_tokens"),
        ({"window": 17}, "window"),
        ({"max_tokens": 400, "window": 40, "overlap_tokens": 19}, "overlap_tokens"),
    ],
)
def test_nonsense_configs_raise_value_error(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChunkConfig(**kwargs)


def test_the_budget_leaves_room_for_the_two_special_tokens() -> None:
    assert ChunkConfig(max_tokens=512, overlap_tokens=0, window=256).budget == 254


def test_hard_wrapped_lines_join_and_paragraph_breaks_stay() -> None:
    assert paragraphs("one\ntwo\n \nthree  four\n\n\n") == ["one two", "three four"]


def test_sentences_rejoin_to_their_paragraph() -> None:
    paragraph = 'He said "Go." She went! Did he? Yes… done'
    assert sentences(paragraph) == ['He said "Go."', "She went!", "Did he?", "Yes…", "done"]


def test_a_short_text_is_one_chunk_with_paragraph_breaks(tokenizer: Tokenizer) -> None:
    chunks = chunk_text(
        "One line\nwrapped.\n\nTwo.", book_id="b", tokenizer=tokenizer, config=ChunkConfig()
    )
    assert [c.text for c in chunks] == ["One line wrapped.\n\nTwo."]
    assert chunks[0] == Chunk(
        id=chunk_id("b", 0, chunks[0].text),
        book_id="b",
        position=0,
        text="One line wrapped.\n\nTwo.",
        n_tokens=len(tokenizer.encode(chunks[0].text).ids),
    )


def test_no_chunk_exceeds_the_budget_and_n_tokens_is_the_real_count(tokenizer: Tokenizer) -> None:
    text = "\n\n".join(
        f"Sentence number {i} is here. And another one follows it." for i in range(50)
    )
    chunks = chunk_text(text, book_id="b", tokenizer=tokenizer, config=SMALL)
    assert len(chunks) > 10
    for chunk in chunks:
        assert chunk.n_tokens == len(tokenizer.encode(chunk.text).ids)
        assert chunk.n_tokens <= SMALL.budget + 2


def test_an_over_long_sentence_is_split_into_word_runs(tokenizer: Tokenizer) -> None:
    text = " ".join(f"word{i}" for i in range(100))
    chunks = chunk_text(text, book_id="b", tokenizer=tokenizer, config=SMALL)
    assert len(chunks) > 1
    assert " ".join(c.text for c in chunks) == text


def test_an_over_long_word_is_split_into_token_pieces(tokenizer: Tokenizer) -> None:
    # Under 100 characters: BERT's WordPiece turns longer words into a single [UNK].
    word = "xq" * 45
    chunks = chunk_text(word, book_id="b", tokenizer=tokenizer, config=SMALL)
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == word
    assert all(c.n_tokens <= SMALL.budget + 2 for c in chunks)


def test_overlap_repeats_trailing_whole_sentences(tokenizer: Tokenizer) -> None:
    text = " ".join(f"Fact {i} holds." for i in range(40))
    config = ChunkConfig(max_tokens=32, overlap_tokens=8, window=256)
    chunks = chunk_text(text, book_id="b", tokenizer=tokenizer, config=config)
    for before, after in itertools.pairwise(chunks):
        head = sentences(after.text)
        carried = [
            " ".join(head[:k])
            for k in range(1, len(head))
            if before.text.endswith(" ".join(head[:k]))
        ]
        assert carried, "the next chunk must open with the previous chunk's last sentences"
        assert len(tokenizer.encode(carried[-1], add_special_tokens=False).ids) <= 8


def test_without_overlap_chunks_cover_the_text_exactly_once(tokenizer: Tokenizer) -> None:
    text = "\n\n".join(f"Para {i}. It has two sentences." for i in range(30))
    chunks = chunk_text(text, book_id="b", tokenizer=tokenizer, config=SMALL)
    assert "".join(squashed(c.text) for c in chunks) == squashed(text)


def test_empty_text_gives_no_chunks(tokenizer: Tokenizer) -> None:
    assert chunk_text(" \n\n \n", book_id="b", tokenizer=tokenizer, config=ChunkConfig()) == []


def test_chunking_is_deterministic(tokenizer: Tokenizer) -> None:
    text = "Alpha beta. Gamma delta.\n\nEpsilon." * 40
    first = chunk_text(text, book_id="b", tokenizer=tokenizer, config=SMALL)
    assert first == chunk_text(text, book_id="b", tokenizer=tokenizer, config=SMALL)


def test_a_one_megabyte_book_chunks_whole_within_the_window(tokenizer: Tokenizer) -> None:
    """Chunking counts tokens with one encode_batch over all units and one over the chunks.

    Speed is measured by `ragmill bench`, not here: about 0.4 s for 1 MB of Moby Dick on a
    2-core machine.
    """
    paragraph = (
        "The whale rose slowly from the deep, and the men, who had waited for hours, cheered. " * 6
    )
    text = "\n\n".join(paragraph for _ in range(2000))[: 2**20]
    chunks = chunk_text(text, book_id="b", tokenizer=tokenizer, config=ChunkConfig())
    assert len(chunks) > 1000
    assert all(c.n_tokens <= ChunkConfig().window for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@PROPERTY
@given(st.text(max_size=3000), st.integers(16, 64), st.integers(0, 7))
def test_any_text_chunks_within_the_window_in_order(
    tokenizer: Tokenizer, text: str, max_tokens: int, overlap: int
) -> None:
    config = ChunkConfig(max_tokens=max_tokens, overlap_tokens=overlap, window=max_tokens + 2)
    chunks = chunk_text(text, book_id="b", tokenizer=tokenizer, config=config)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.n_tokens == len(tokenizer.encode(chunk.text).ids) <= config.window
        assert chunk.id == chunk_id("b", chunk.position, chunk.text)


@PROPERTY
@given(st.lists(st.lists(words, min_size=1, max_size=25), min_size=1, max_size=8))
def test_without_overlap_chunks_reproduce_every_word_in_order(
    tokenizer: Tokenizer, paragraph_words: list[list[str]]
) -> None:
    text = "\n\n".join(" ".join(ws) for ws in paragraph_words)
    config = ChunkConfig(max_tokens=16, overlap_tokens=0, window=18)
    chunks = chunk_text(text, book_id="b", tokenizer=tokenizer, config=config)
    assert "".join(squashed(c.text) for c in chunks) == squashed(text)
