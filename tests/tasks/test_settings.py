"""Settings parse the environment once and reject values ragmill cannot use."""

from __future__ import annotations

import pytest

from tasks.embedding.variants import default_variant, int8_config
from tasks.setting_checks import chroma_address, mask_url
from tasks.settings import LLMSettings, Settings, SettingsError


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None
    assert settings.chroma_url is None
    assert settings.collection == "ragmill"
    assert settings.mirror == "https://www.gutenberg.org"
    assert settings.cache_dir == settings.data_dir / "cache"


def test_environment_overrides_defaults() -> None:
    settings = Settings.from_env({
        "REDIS_URL": "redis://:secret@10.0.0.5:6380/2", "CHROMA_URL": "http://10.0.0.6:8001",
        "GUTENBERG_MIRROR": "http://mirror.local/gutenberg", "RAGMILL_CHUNK_TOKENS": "120",
        "RAGMILL_BOOKS_IN_FLIGHT": "3",
    })
    assert settings.redis_url == "redis://:secret@10.0.0.5:6380/2"
    assert chroma_address(settings.chroma_url or "") == ("10.0.0.6", 8001, False)
    assert settings.mirror == "http://mirror.local/gutenberg"
    assert settings.chunk_tokens == 120
    assert settings.books_in_flight == 3


@pytest.mark.parametrize(
    ("settings", "env", "names"),
    [
        (Settings, {"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        (Settings, {"REDIS_URL": "redis://localhost:notaport"}, "REDIS_URL"),
        (Settings, {"CHROMA_URL": "localhost:8000"}, "CHROMA_URL"),
        (Settings, {"GUTENBERG_MIRROR": "file:///etc"}, "GUTENBERG_MIRROR"),
        (Settings, {"RAGMILL_CHUNK_TOKENS": "many"}, "RAGMILL_CHUNK_TOKENS"),
        (Settings, {"RAGMILL_BOOKS_IN_FLIGHT": "0"}, "RAGMILL_BOOKS_IN_FLIGHT"),
        (Settings, {"EMBED_BACKEND": "tensorflow"}, "EMBED_BACKEND"),
        (Settings, {"RAGMILL_COLLECTION": "a b"}, "RAGMILL_COLLECTION"),
        (Settings, {"RAGMILL_COLLECTION": "x"}, "RAGMILL_COLLECTION"),
        (LLMSettings, {"LLM_RPM": "0"}, "LLM_RPM"),
        (LLMSettings, {"LLM_RPM": "-5"}, "LLM_RPM"),
        (LLMSettings, {"LLM_TPM": "lots"}, "LLM_TPM"),
        (LLMSettings, {"LLM_WINDOW_SECONDS": "inf"}, "LLM_WINDOW_SECONDS"),
        (LLMSettings, {"LLM_TIMEOUT": "0"}, "LLM_TIMEOUT"),
        (LLMSettings, {"LLM_BASE_URL": "localhost:8080"}, "LLM_BASE_URL"),
        (LLMSettings, {"LLM_BASE_URL": "http://h/v1"}, "LLM_MODEL"),
        (LLMSettings, {"LLM_MODEL": "m"}, "LLM_BASE_URL"),
        (LLMSettings, {"LLM_TPM": "100", "LLM_MAX_TOKENS": "200"}, "LLM_MAX_TOKENS"),
    ],
)
def test_nonsense_is_rejected_naming_the_variable(
    settings: type[Settings] | type[LLMSettings], env: dict[str, str], names: str
) -> None:
    with pytest.raises(SettingsError, match=names):
        settings.from_env(env)


def test_passwords_never_appear_in_error_messages() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REDIS_URL": "redis://:hunter2@host:bad/0"})
    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert mask_url("redis://host:6379/0") == "redis://host:6379/0"


def test_an_embed_variant_must_be_one_of_its_backend_and_is_recorded() -> None:
    from tasks.collection_record import expected_record

    static = "int8-static-openvino"
    with pytest.raises(SettingsError, match=rf"^EMBED_VARIANT='{static}' applies to EMBED_BACKEND"):
        Settings.from_env({"EMBED_BACKEND": "torch", "EMBED_VARIANT": static})
    with pytest.raises(SettingsError, match=r"is not a variant of EMBED_BACKEND='onnx'"):
        Settings.from_env({"EMBED_BACKEND": "onnx", "EMBED_VARIANT": static})
    dynamic = Settings.from_env({"EMBED_BACKEND": "onnx-int8", "EMBED_VARIANT": "int8-dynamic"})
    assert expected_record(dynamic).quantisation == f"int8-dynamic-{int8_config()}"
    assert expected_record(Settings.from_env({"EMBED_BACKEND": "onnx"})).quantisation == "fp32"
    assert expected_record(Settings.from_env({})).quantisation == default_variant("onnx-int8")
