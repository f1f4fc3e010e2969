"""LLM settings from the environment: sensible defaults, nonsense refused by name."""

from __future__ import annotations

import pytest

from tasks.settings import LLMSettings, SettingsError


def test_defaults_mean_no_llm_and_a_one_minute_window() -> None:
    settings = LLMSettings.from_env({})
    assert not settings.configured
    assert settings.window_seconds == 60.0


def test_a_full_configuration_is_read() -> None:
    settings = LLMSettings.from_env(
        {
            "LLM_BASE_URL": "http://127.0.0.1:8080/v1/",
            "LLM_MODEL": "llama",
            "LLM_API_KEY": "sk-x",
            "LLM_RPM": "500",
            "LLM_TPM": "90000",
            "LLM_WINDOW_SECONDS": "5",
        }
    )
    assert settings.configured
    assert settings.chat_url == "http://127.0.0.1:8080/v1/chat/completions"
    assert (settings.rpm, settings.tpm, settings.window_seconds) == (500, 90000, 5.0)


def test_endpoints_and_models_get_separate_limits_unless_named() -> None:
    a = LLMSettings(base_url="http://a/v1", model="m")
    b = LLMSettings(base_url="http://b/v1", model="m")
    assert a.limit_key != b.limit_key
    assert LLMSettings(base_url="http://a/v1", model="m", limit_name="org").limit_key == "org"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"LLM_RPM": "0"}, "LLM_RPM"),
        ({"LLM_RPM": "-5"}, "LLM_RPM"),
        ({"LLM_TPM": "lots"}, "LLM_TPM"),
        ({"LLM_WINDOW_SECONDS": "inf"}, "LLM_WINDOW_SECONDS"),
        ({"LLM_TIMEOUT": "0"}, "LLM_TIMEOUT"),
        ({"LLM_BASE_URL": "localhost:8080"}, "LLM_BASE_URL"),
        ({"LLM_BASE_URL": "http://h/v1"}, "LLM_MODEL"),
        ({"LLM_MODEL": "m"}, "LLM_BASE_URL"),
        ({"LLM_TPM": "100", "LLM_MAX_TOKENS": "200"}, "LLM_MAX_TOKENS"),
    ],
)
def test_nonsense_is_refused_naming_the_variable(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        LLMSettings.from_env(env)
