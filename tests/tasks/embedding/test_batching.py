"""Requests as large as the caps allow, and token bounds no endpoint tokenizer can exceed."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.tokens import load_tokenizer
from tasks.embedding.backend import EmbeddingBackend
from tasks.embedding.batching import (
    PlannedRequest,
    plan_requests,
    reservation,
    token_bound,
    tokens_per_byte,
)
from tasks.embedding.errors import EmbedBatchTooLarge
from tasks.settings import RemoteEmbedSettings, Settings, SettingsError, default_model
from tests.support.books import gutenberg_text

TEXTS = [
    "It is a truth universally acknowledged.",
    "Ünïcödé façade — naïve café, 東京 and Ελληνικά, emoji 🚂🚂🚂.",
    "word " * 180,
    "a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p (1) [2] {3} <4> 5.6.7.8 $9 %10",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "",
]


def test_the_bound_is_never_below_the_real_token_count() -> None:
    tokenizer = load_tokenizer(Path(default_model()))
    for text in TEXTS:
        # The WordPiece tokenizer of the test server, untruncated, special tokens included.
        real = len(tokenizer.encode(text).ids)
        assert token_bound(text) >= real, text


def test_once_a_reply_has_priced_a_byte_other_text_reserves_near_its_real_tokens() -> None:
    tokenizer = load_tokenizer(Path(default_model()))

    def request_of(book: str) -> tuple[PlannedRequest, int]:
        paragraphs = [p for p in gutenberg_text(book).text.split("\n\n") if len(p) > 200][:32]
        real = sum(len(tokenizer.encode(p).ids) for p in paragraphs)
        return plan_requests(paragraphs, max_inputs=32, max_tokens=300_000)[0], real

    (first, first_real), (second, second_real) = request_of("1001"), request_of("1002")
    # Unpriced, a request reserves its whole bound: about 4.5 times what English costs.
    assert reservation(second, None) == second.tokens > 4 * second_real
    priced = reservation(second, tokens_per_byte(first, first_real))
    assert second_real <= priced <= 1.25 * second_real
    # A few words are mostly special tokens: they price nothing.
    assert tokens_per_byte(PlannedRequest(0, 1, token_bound("A whale.")), 4) is None


@pytest.mark.parametrize(("max_inputs", "max_tokens"), [(2048, 10_000), (3, 10_000), (50, 600)])
def test_requests_cover_every_text_in_order_within_both_caps(
    max_inputs: int, max_tokens: int
) -> None:
    texts = [f"chunk {i} " + "x" * (i * 37 % 400) for i in range(40)]
    plan = plan_requests(texts, max_inputs=max_inputs, max_tokens=max_tokens)
    assert [p.start for p in plan] == [0] + [p.stop for p in plan[:-1]]
    assert plan[-1].stop == len(texts)
    for p in plan:
        assert p.stop - p.start <= max_inputs
        assert p.tokens == sum(token_bound(t) for t in texts[p.start : p.stop]) <= max_tokens
    # As large as allowed: each request but the last could not have taken the next text.
    for p in plan[:-1]:
        fits = p.stop - p.start < max_inputs and p.tokens + token_bound(texts[p.stop]) <= max_tokens
        assert not fits


def test_a_whole_batch_goes_in_one_request_when_the_caps_allow() -> None:
    texts = [f"chunk {i}" for i in range(64)]
    assert len(plan_requests(texts, max_inputs=2048, max_tokens=300_000)) == 1


def test_a_text_larger_than_one_request_may_be_is_a_final_error_naming_what_to_change() -> None:
    with pytest.raises(EmbedBatchTooLarge) as caught:
        plan_requests(["x" * 500], max_inputs=10, max_tokens=100, endpoint="http://e/v1/embeddings")
    message = str(caught.value)
    assert "http://e/v1/embeddings" in message and "RAGMILL_CHUNK_TOKENS" in message
    assert "\n" not in message


def test_one_request_never_reserves_more_than_a_window_admits() -> None:
    settings = RemoteEmbedSettings(tpm=5000, max_request_tokens=300_000)
    assert settings.request_token_cap == 5000


def test_the_openai_backend_needs_an_endpoint_and_its_model_name() -> None:
    with pytest.raises(SettingsError, match="EMBED_BASE_URL"):
        Settings.from_env({"EMBED_BACKEND": "openai", "EMBED_MODEL": "m"})
    with pytest.raises(SettingsError, match="EMBED_MODEL"):
        Settings.from_env({"EMBED_BACKEND": "openai", "EMBED_BASE_URL": "http://h/v1"})
    settings = Settings.from_env({
        "EMBED_BACKEND": "openai", "EMBED_BASE_URL": "http://h/v1", "EMBED_MODEL": "m",
        "EMBED_API_KEY": "sk-secret-123", "EMBED_MAX_INPUTS": "32",
    })
    assert settings.remote_embedding and settings.remote_embed.max_inputs == 32
    assert EmbeddingBackend.from_settings(settings).chunk_model == default_model()
    assert "sk-secret-123" not in repr(settings)
