"""Decoding bytes in the encodings Gutenberg uses, and refusing non-text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.decode import decode_text
from corpus.errors import DecodeError


def test_utf8_is_decoded() -> None:
    assert decode_text("Café naïve".encode(), "a.txt") == "Café naïve"


def test_a_utf8_bom_is_stripped() -> None:
    assert decode_text(b"\xef\xbb\xbfTitle", "a.txt") == "Title"


def test_latin1_bytes_fall_back_to_a_single_byte_codec() -> None:
    assert decode_text("Français à l'école".encode("latin-1"), "a.txt") == "Français à l'école"


def test_windows_quotes_decode_as_cp1252() -> None:
    assert decode_text(b"\x93quoted\x94", "a.txt") == "\u201cquoted\u201d"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1() -> None:
    assert decode_text(b"caf\xe9 \x81", "a.txt") == "café \x81"


def test_crlf_and_lone_cr_become_lf() -> None:
    assert decode_text(b"one\r\ntwo\rthree\n", "a.txt") == "one\ntwo\nthree\n"


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n", b"\xef\xbb\xbf", "\u00a0".encode()])
def test_empty_or_whitespace_only_input_is_refused_naming_the_input(data: bytes) -> None:
    with pytest.raises(DecodeError, match=r"^notes\.txt: "):
        decode_text(data, "notes.txt")


@pytest.mark.parametrize("data", [b"PK\x03\x04\x00\x00zip", bytes(range(32)) * 20])
def test_binary_input_is_refused(data: bytes) -> None:
    with pytest.raises(DecodeError, match="binary"):
        decode_text(data, "book.zip")


@pytest.mark.parametrize(
    "data", [b"<!DOCTYPE html><html><body>x</body></html>", b"\n  <html lang='en'>\n<p>x</p>"]
)
def test_html_is_refused(data: bytes) -> None:
    with pytest.raises(DecodeError, match="HTML"):
        decode_text(data, "https://example.org/book")


@given(st.binary(max_size=2000))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        text = decode_text(data, "x")
    except DecodeError as err:
        assert "\n" not in str(err)
        return
    assert "\r" not in text
    assert text.strip()


RUSSIAN = (
    "Война и мир. Лев Николаевич Толстой.\n\n— Eh bien, mon prince. Гёте и Шиллер были "
    "друзьями; они часто писали друг другу письма про поэзию и жизнь.\n"
)
JAPANESE = (
    "吾輩は猫である。名前はまだ無い。\nどこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。\n"
)


def test_a_cp1251_russian_text_is_detected() -> None:
    assert decode_text(RUSSIAN.encode("cp1251"), "ru.txt") == RUSSIAN


def test_a_shift_jis_japanese_text_is_detected() -> None:
    assert decode_text(JAPANESE.encode("shift_jis"), "ja.txt") == JAPANESE


def test_gutenbergs_declared_charset_is_honoured() -> None:
    text = "Title: Résumé\nCharacter set encoding: ISO-8859-15\n\nPrix: 5 €\n"
    assert decode_text(text.encode("iso-8859-15"), "a.txt") == text


def test_a_utf16_bom_is_followed() -> None:
    assert decode_text("\ufeffHello, wörld".encode("utf-16-le"), "a.txt") == "Hello, wörld"
