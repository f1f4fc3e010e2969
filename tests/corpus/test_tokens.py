"""Loading the model's tokenizer and its token window."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from corpus.errors import CorpusError
from corpus.tokens import load_tokenizer, model_window


def test_the_loaded_tokenizer_does_not_truncate_long_text(tokenizer: Tokenizer) -> None:
    assert len(tokenizer.encode("word " * 1000).ids) == 1002


def test_the_loaded_tokenizer_does_not_pad_short_text(tokenizer: Tokenizer) -> None:
    assert len(tokenizer.encode("hello").ids) == 3


def test_a_folder_without_tokenizer_json_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"no tokenizer\.json"):
        load_tokenizer(tmp_path)


def test_a_malformed_tokenizer_json_is_a_corpus_error(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(CorpusError, match="cannot load"):
        load_tokenizer(tmp_path)


def test_the_default_model_window_is_256(model_dir: Path) -> None:
    assert model_window(model_dir) == 256


def test_the_window_falls_back_to_512_without_a_config(tmp_path: Path) -> None:
    assert model_window(tmp_path) == 512


def test_the_window_falls_back_to_512_on_a_nonsense_config(tmp_path: Path) -> None:
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": "long"}')
    assert model_window(tmp_path) == 512
