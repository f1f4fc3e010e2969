"""LLM settings from the environment: sensible defaults and separate limits.

Nonsense refused by name: tests/tasks/test_settings.py, with every other variable.
"""

from __future__ import annotations

from tasks.settings import LLMSettings


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
