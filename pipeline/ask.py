"""`ragmill ask`: retrieve the closest chunks and have the LLM answer from them, citing sources.

Sources are labelled [book id:chunk] (e.g. [84:12], chunk = its position in the book); the answer
must cite them that way, and only citations of retrieved chunks are shown as sources.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.markup import escape

from pipeline.query import Result
from tasks.llm.client import Message
from tasks.llm.settings import LLMSettings
from tasks.settings import SettingsError

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
    text: str
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
        f"[{label(r)}] {r.title}{' by ' + r.author if r.author else ''}\n{r.text.strip()}"
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


def require_llm(fail: Callable[[str, int], NoReturn]) -> LLMSettings:
    """The LLM settings, or a one-line error saying what to set."""
    try:
        settings = LLMSettings.from_env()
    except SettingsError as exc:
        fail(str(exc), 2)
    if not settings.configured:
        fail("no LLM is configured; set LLM_BASE_URL (an OpenAI-compatible /v1 URL) and "
             "LLM_MODEL", 2)
    return settings


@click.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True,
              help="How many chunks to retrieve and give the LLM.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer and sources as JSON.")
@click.option("--data-dir", type=click.Path(path_type=Path))
@click.option("--collection", envvar="RAGMILL_COLLECTION", help="Chroma collection.")
def ask(question: str, k: int, as_json: bool, data_dir: Path | None,
        collection: str | None) -> None:
    """Answer QUESTION from the stored books with the LLM, citing [book id:chunk].

    \b
      ragmill ask "Who is Victor Frankenstein's friend?" -k 5

    Needs LLM_BASE_URL and LLM_MODEL; without them it prints the closest passages.
    """
    from pipeline.cli import chunk_store, console, fail, load_settings, out, stack_errors
    from pipeline.query import search
    from tasks.llm.errors import LLMError

    settings = load_settings(
        data_dir=data_dir.absolute() if data_dir else None, collection=collection
    )
    try:
        llm = LLMSettings.from_env()
    except SettingsError as exc:
        fail(str(exc), 2)
    with stack_errors(), chunk_store(settings) as store:
        results = search(store, settings, question, k)
    if not results:
        fail("no chunks stored yet; run `ragmill ingest` first")
    if not llm.configured:
        console.print("No LLM is configured (set LLM_BASE_URL and LLM_MODEL); the closest "
                      "passages are:")
        if as_json:
            out.print_json(json.dumps({"question": question, "answer": None,
                                       "sources": [r.as_dict() for r in results]}))
        else:
            print_passages(out, results)
        return
    try:
        result = answer_question(question, results, make_chat(llm, settings))
    except LLMError as exc:
        fail(f"the LLM could not answer: {exc}")
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
        return
    out.print(result.text, markup=False, highlight=False)
    out.print()
    if result.cited:
        out.print("[bold]Sources[/]")
        print_passages(out, result.cited)
    else:
        console.print("The answer cites none of the retrieved passages.")
    if result.unknown:
        console.print(f"[yellow]warning:[/] the answer cites passages that were not retrieved: "
                      f"{', '.join(result.unknown)}")


def make_chat(llm: LLMSettings, settings: Any) -> Callable[[list[Message]], str]:
    """One call through the cluster's shared limit when a cluster's Redis is known."""
    from pipeline.broker import connect
    from pipeline.stack import running_stack
    from tasks.llm.caller import LLMCaller
    from tasks.llm.client import ChatClient
    from tasks.llm.engine import make_limiter

    redis_url = settings.redis_url
    if redis_url is None:
        info = running_stack(settings.data_dir)
        redis_url = info.redis_url if info else None
    limiter = make_limiter(llm, connect(redis_url)) if redis_url else None
    caller = LLMCaller(llm, limiter, ChatClient(llm))
    # Answers need more room than one-line contexts, within what a window allows.
    max_tokens = min(max(llm.max_tokens, 400), llm.tpm // 2)
    return lambda messages: caller.chat(messages, max_tokens=max_tokens).text


def print_passages(out: Any, results: Sequence[Result]) -> None:
    for r in results:
        out.print(
            f"[bold]{escape('[' + label(r) + ']')}[/] "
            f"{escape(r.title)}{' — ' + escape(r.author) if r.author else ''} "
            f"(score {r.score:.3f})",
            highlight=False,
        )
        out.print(r.text.strip(), markup=False, highlight=False)
        out.print()


if __name__ == "__main__":
    sys.exit(ask())
