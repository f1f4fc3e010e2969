"""Token counts from remembered word counts equal the tokenizer's own, on books and hard cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from corpus.decode import decode_text
from corpus.token_count import TokenCounter, is_word_additive

EXAMPLE_BOOKS = Path(__file__).resolve().parents[2] / "examples" / "books"

# Whitespace as str.split and BERT each see it, controls BERT deletes, marks, scripts BERT spaces.
HARD_CHARACTERS = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2000\u2028\u3000\u200b\xad\x00\ufffd"
    "aZé\u0301ßΣς漢字カナ한\U0001f600.,;'\"-[]#"
)


def real_counts(tokenizer: Tokenizer, texts: list[str], special: bool = False) -> list[int]:
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=special)]


def sentences_of(path: Path) -> list[str]:
    text = decode_text(path.read_bytes(), path.name)
    return [line for line in text.splitlines() if line.strip()]


def test_the_default_models_tokenizer_is_counted_by_words(tokenizer: Tokenizer) -> None:
    assert is_word_additive(tokenizer)


@pytest.mark.parametrize("book", sorted(EXAMPLE_BOOKS.glob("*.txt")), ids=lambda p: p.stem)
def test_word_sums_equal_the_tokenizers_counts_on_a_book(tokenizer: Tokenizer, book: Path) -> None:
    lines = sentences_of(book)
    paragraphs = [" ".join(lines[i : i + 12]) for i in range(0, len(lines), 12)]
    counter = TokenCounter(tokenizer)
    assert counter.count(lines) == real_counts(tokenizer, lines)
    assert counter.count(paragraphs, special=True) == real_counts(tokenizer, paragraphs, True)


def test_word_sums_equal_the_tokenizers_counts_on_the_shared_books(
    tokenizer: Tokenizer, shared_books: Path
) -> None:
    counter = TokenCounter(tokenizer)
    for book in sorted(shared_books.glob("pg*.txt"))[:12]:
        lines = sentences_of(book)
        assert counter.count(lines) == real_counts(tokenizer, lines), book.name


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(alphabet=HARD_CHARACTERS, max_size=60), min_size=1, max_size=8))
def test_word_sums_equal_the_tokenizers_counts_on_hard_characters(
    tokenizer: Tokenizer, texts: list[str]
) -> None:
    assert TokenCounter(tokenizer).count(texts) == real_counts(tokenizer, texts)


def test_a_remembered_word_counts_the_same_in_a_later_text(tokenizer: Tokenizer) -> None:
    counter = TokenCounter(tokenizer)
    texts = ["Unbelievably, Frankenstein's creature spoke.", "Spoke the creature: unbelievably!"]
    assert [counter.count([text])[0] for text in texts] == real_counts(tokenizer, texts)


def test_counts_stay_right_when_the_word_memo_fills_and_starts_afresh(
    tokenizer: Tokenizer,
) -> None:
    counter = TokenCounter(tokenizer, max_words=5)
    texts = ["one two three", "three four five six", "one seven", "eight nine ten eleven twelve"]
    assert [counter.count([text])[0] for text in texts] == real_counts(tokenizer, texts)


def test_special_tokens_are_added_when_asked(tokenizer: Tokenizer) -> None:
    counter = TokenCounter(tokenizer)
    assert counter.count(["", "one two"], special=True) == [2, 4]


def byte_level_bpe() -> Tokenizer:
    """A tokenizer that folds the space into the next word, as GPT-style ones do."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        ["the cat sat on the mat", "a dog and a cat"] * 20,
        trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    return bpe


def test_a_tokenizer_that_is_not_word_additive_is_counted_whole() -> None:
    bpe = byte_level_bpe()
    texts = ["the cat sat", "thecat  sat on\tthe mat", "a dog"]
    counter = TokenCounter(bpe)
    assert not counter.word_additive
    assert counter.count(texts) == real_counts(bpe, texts)
