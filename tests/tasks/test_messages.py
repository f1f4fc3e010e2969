"""A local file's bytes cross the JSON wire inside its FetchBook unchanged."""

from __future__ import annotations

import json

import pytest

from tasks.messages import BookOptions, FetchBook, MessageError, SourceRef, from_wire, to_wire

OPTIONS = BookOptions(mirror="https://m", chunk_tokens=200, chunk_overlap=32, collection="c")
SOURCE = SourceRef(kind="file", ref="/books/a.pdf", label="a.pdf")


def test_file_bytes_survive_the_json_wire() -> None:
    data = bytes(range(256)) * 3 + b"%PDF-1.7\x00\xff"
    message = FetchBook(run_id="r", source=SOURCE, options=OPTIONS, data=data)
    wire = json.loads(json.dumps(to_wire(message)))
    assert isinstance(wire["data"], str)
    assert from_wire(FetchBook, wire, "ragmill.fetch_book").data == data


def test_bytes_that_are_not_base64_are_refused_naming_the_task() -> None:
    wire = to_wire(FetchBook(run_id="r", source=SOURCE, options=OPTIONS, data=b"x"))
    wire["data"] = "not base64!"
    with pytest.raises(MessageError, match=r"ragmill\.fetch_book: not a FetchBook message \(data"):
        from_wire(FetchBook, wire, "ragmill.fetch_book")


def test_a_message_without_bytes_stays_without() -> None:
    message = FetchBook(run_id="r", source=SOURCE, options=OPTIONS)
    assert from_wire(FetchBook, to_wire(message), "t").data is None
