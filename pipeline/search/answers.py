"""Answers from the books: the LLM answers from the closest chunks and cites its sources.

Sources are labelled [book id:chunk] (e.g. [84:12], chunk = its position in the book); the answer
must cite them that way, and only citations of retrieved chunks are shown as sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.search.query import Result
from tasks.llm.client import Message
from tasks.settings import LLMSettings

CITATION = re.compile(r"\[([^\[\]\s:]+):(\d+)\]")
SYSTEM = (
    "You answer questions about books using only the numbered sources given. Cite every "
    "claim with its source label exactly as given, e.g. [84:12]. If the sources do not "
    "contain the answer, say that they do not."
)


def label(result: Result) -> str:
    return f"{result.book_id}:{result.position}"


@dataclass(frozen=True)
class Answer:
    """The LLM's answer, the retrieved passages it cites, and citations of nothing retrieved."""

    question: str
    text: str | None  # None: no LLM is configured, and `cited` are the closest passages
    cited: list[Result]
    unknown: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "sources": [{"label": label(r), **r.as_dict()} for r in self.cited],
            "unknown_citations": self.unknown,
        }


def answer_messages(question: str, results: Sequence[Result]) -> list[Message]:
    """The prompt: every retrieved passage under its label, then the question."""
    sources = "\n\n".join(
        f"[{label(r)}] {r.title}{' by ' + r.author if r.author else ''}"
        f"{''.join(', ' + part for part in (r.chapter, r.pages) if part)}\n{r.text.strip()}"
        for r in results
    )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Sources:\n\n{sources}\n\nQuestion: {question}"},
    ]


def cited_sources(text: str, results: Sequence[Result]) -> tuple[list[Result], list[str]]:
    """The results `text` cites, in order of first citation, and labels that match none."""
    by_label = {label(r): r for r in results}
    cited: list[Result] = []
    unknown: list[str] = []
    for book, position in CITATION.findall(text):
        key = f"{book}:{int(position)}"
        if key in by_label:
            if by_label[key] not in cited:
                cited.append(by_label[key])
        elif key not in unknown:
            unknown.append(key)
    return cited, unknown


def answer_question(
    question: str, results: Sequence[Result], chat: Callable[[list[Message]], str]
) -> Answer:
    """Ask `chat` to answer `question` from `results`; keep only citations that exist."""
    text = chat(answer_messages(question, results)).strip()
    cited, unknown = cited_sources(text, results)
    return Answer(question, text, cited, unknown)


def make_chat(llm: LLMSettings, settings: Any) -> Callable[[list[Message]], str]:
    """One call through the cluster's shared limit when a cluster's Redis is known."""
    from pipeline.stack.broker import connect
    from pipeline.stack.cluster import find_cluster
    from tasks.llm.caller import LLMCaller
    from tasks.llm.client import ChatClient
    from tasks.llm.engine import make_limiter

    redis_url = settings.redis_url or find_cluster(settings).redis_url
    limiter = make_limiter(llm, connect(redis_url)) if redis_url else None
    caller = LLMCaller(llm, limiter, ChatClient(llm))
    # Answers need more room than one-line contexts, within what a window allows.
    max_tokens = min(max(llm.max_tokens, 400), llm.tpm // 2)
    return lambda messages: caller.chat(messages, max_tokens=max_tokens).text
