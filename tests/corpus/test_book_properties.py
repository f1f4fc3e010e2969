"""Properties of the whole decode -> strip -> chunk path on arbitrary input.

tests/corpus/test_decode.py, test_boilerplate.py and test_chunking.py hold the properties of each
step alone; these hold for `prepare_book`, which runs them together as a worker does.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from corpus.boilerplate import strip_boilerplate
from corpus.book import prepare_book
from corpus.chunking import ChunkConfig
from corpus.decode import decode_text
from corpus.errors import DecodeError

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NO_OVERLAP = ChunkConfig(max_tokens=24, overlap_tokens=0, window=26)
MARKED = st.builds(
    lambda head, body, tail: (
        f"{head}\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n{body}\n"
        f"*** END OF THE PROJECT GUTENBERG EBOOK X ***\n{tail}"
    ),
    st.text(max_size=200),
    st.text(max_size=1500),
    st.text(max_size=200),
)


def squashed(text: str) -> str:
    return "".join(text.split())


@PROPERTY
@given(st.binary(max_size=3000))
def test_any_bytes_become_chunks_or_one_decode_error_naming_the_input(
    tokenizer: Tokenizer, data: bytes
) -> None:
    try:
        book = prepare_book(
            data, name="in.txt", tokenizer=tokenizer, config=NO_OVERLAP, fallback_id="b"
        )
    except DecodeError as exc:
        assert str(exc).startswith("in.txt: ") and "\n" not in str(exc)
        return
    assert [c.position for c in book.chunks] == list(range(len(book.chunks)))
    assert all(c.n_tokens <= NO_OVERLAP.window for c in book.chunks)


@PROPERTY
@given(st.one_of(st.text(max_size=2000), MARKED))
def test_chunks_cover_the_stripped_text_in_order_and_ids_repeat(
    tokenizer: Tokenizer, text: str
) -> None:
    data = text.encode("utf-8")
    try:
        first = prepare_book(
            data, name="in.txt", tokenizer=tokenizer, config=NO_OVERLAP, fallback_id="b"
        )
    except DecodeError:
        return
    body = strip_boilerplate(decode_text(data, "in.txt")).body
    assert "".join(squashed(c.text) for c in first.chunks) == squashed(body)
    again = prepare_book(
        data, name="in.txt", tokenizer=tokenizer, config=NO_OVERLAP, fallback_id="b"
    )
    assert [c.id for c in again.chunks] == [c.id for c in first.chunks]
    assert len({c.id for c in first.chunks}) == len(first.chunks)
