"""Reading pooling, normalisation and the window from both sentence-transformers folder layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.embedding.layout import LayoutError, ModelLayout
from tasks.settings import default_model

MODULES = "sentence_transformers.models."
TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": MODULES + "Transformer"}
POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": MODULES + "Pooling"}


def _folder(tmp_path: Path, modules: list[dict], pooling: dict, **files: dict) -> Path:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    for name, content in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
    return tmp_path


def test_the_bundled_model_is_mean_pooled_normalised_with_a_256_token_window() -> None:
    assert ModelLayout.read(Path(default_model())) == ModelLayout(
        max_tokens=256, pooling="mean", normalize=True, dimension=384
    )


def test_the_newer_layout_names_pooling_and_keeps_the_window_in_the_tokenizer(
    tmp_path: Path,
) -> None:
    folder = _folder(
        tmp_path, [TRANSFORMER, POOLING], {"embedding_dimension": 768, "pooling_mode": "cls"},
        sentence_bert_config={"transformer_task": "feature-extraction"},
        tokenizer_config={"model_max_length": 384}, config={"max_position_embeddings": 512},
    )
    assert ModelLayout.read(folder) == ModelLayout(384, "cls", False, 768)


def test_a_placeholder_tokenizer_window_falls_back_to_the_positions(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, [TRANSFORMER, POOLING],
        {"word_embedding_dimension": 384, "pooling_mode_max_tokens": True},
        tokenizer_config={"model_max_length": 1000000000000000019884624838656},
        config={"max_position_embeddings": 512},
    )
    assert ModelLayout.read(folder) == ModelLayout(512, "max", False, 384)


def test_a_dense_module_is_refused_with_the_backend_to_use(tmp_path: Path) -> None:
    dense = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    folder = _folder(
        tmp_path, [TRANSFORMER, POOLING, dense],
        {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True},
        sentence_bert_config={"max_seq_length": 128},
    )
    with pytest.raises(LayoutError, match=r"Dense are not supported.*EMBED_BACKEND=torch"):
        ModelLayout.read(folder)


def test_a_folder_without_modules_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"no modules\.json"):
        ModelLayout.read(tmp_path)
