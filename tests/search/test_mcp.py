"""`ragmill mcp` driven by the MCP SDK's own client, as a desktop client or an agent drives it.

The client starts `ragmill mcp` as a subprocess over stdio, or connects to it over Streamable
HTTP, against a real Chroma server holding the three small books (tests/search/conftest.py). It
lists the tools and calls each; bad inputs are a one-sentence tool error, never a stack trace,
and the server goes on serving; `ask` answers through a local chat server, or says in one line
that there is none; over HTTP the token is required when set, and beyond loopback the server
refuses to start without one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import requests
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from pipeline.serve.mcp.tools import NO_LLM
from pipeline.serve.mcp.transport import REFUSAL
from pipeline.stack.processes import free_port
from tasks.settings import Settings
from tests.conftest import RAGMILL
from tests.support.chat_server import LLMServer, serve_llm
from tests.support.waiting import wait_for_server

pytestmark = pytest.mark.e2e

TOKEN = "a-test-token-of-some-length"
TOOLS = {"search", "read_passage", "list_books", "describe_book", "list_collections", "ask"}


def server_env(library: Settings, **extra: str) -> dict[str, str]:
    """The environment `ragmill mcp` runs in: the library collection, nothing of the caller's."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "LLM_BASE_URL", "LLM_MODEL", "RAGMILL_SERVE_TOKEN"}}
    return {**env, "CHROMA_URL": str(library.chroma_url), "RAGMILL_COLLECTION": library.collection,
            "RAGMILL_DATA_DIR": str(library.data_dir), "HF_HUB_OFFLINE": "1", **extra}


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of a call that must succeed."""
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    """The one sentence of a call that must fail as a tool error."""
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert result.is_error, result.structured_content
    (content,) = result.content
    text = content.text  # type: ignore[union-attr]
    assert "\n" not in text and "Traceback" not in text, text
    return text


async def tools_are_described(client: Client) -> None:
    listed = (await client.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) > 60, tool.name
        assert tool.output_schema is not None, tool.name
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description"), f"{tool.name}.{name}"


async def search_reads_and_lists(client: Client) -> None:
    found = await call(client, "search", query="roses in a walled garden", k=3, language="en")
    assert found["collection"] == "library" and found["mode"] == "meaning"
    assert len(found["passages"]) == 3
    first = found["passages"][0]
    assert {p["book"] for p in found["passages"]} == {"1002"}
    assert first["title"] == "A Garden of Roses" and first["author"] == "Rosa Greenleaf"
    assert first["chapter"].startswith("Chapter ") and isinstance(first["page"], int)
    assert first["chunk_id"] == f"1002-{first['position']:05d}"
    assert first["label"] == f"[1002:{first['position']}]" and first["score"] > 0

    keyword = await call(client, "search", query="harpooner", k=1, mode="keyword")
    assert keyword["passages"][0]["chunk_id"] == "1001-00000"
    hybrid = await call(client, "search", query="steam", k=20, mode="hybrid",
                        book=["1001", "1003"], where={"position": {"$lt": 2}})
    assert sorted((p["book"], p["position"]) for p in hybrid["passages"]) == [
        ("1001", 0), ("1001", 1), ("1003", 0), ("1003", 1)]
    chapter = await call(client, "search", query="roses", chapter="Chapter 2", title="A Garden "
                         "of Roses", author="Rosa Greenleaf")
    assert {p["chapter"] for p in chapter["passages"]} == {"Chapter 2"}

    window = await call(client, "read_passage", chunk_id="1002-00003", before=1, after=1)
    assert [p["position"] for p in window["passages"]] == [2, 3, 4]
    assert window["more_before"] and window["more_after"]
    assert window["passages"][1]["text"].startswith("The damask roses bloomed")
    assert window["passages"][1]["score"] is None
    start = await call(client, "read_passage", chunk_id="1001-00001", before=5, after=0)
    assert [p["position"] for p in start["passages"]] == [0, 1]
    assert not start["more_before"] and start["more_after"]
    end = await call(client, "read_passage", chunk_id="1003-00005", before=0, after=3)
    assert [p["chunk_id"] for p in end["passages"]] == ["1003-00005"] and not end["more_after"]

    books = await call(client, "list_books")
    assert [(b["book"], b["title"], b["chunks"]) for b in books["books"]] == [
        ("1001", "The Whaling Voyage", 6), ("1002", "A Garden of Roses", 6),
        ("1003", "Engines of the Railway", 6)]
    roses = await call(client, "describe_book", book="1002")
    assert roses["book"]["author"] == "Rosa Greenleaf" and roses["first_chunk_id"] == "1002-00000"
    assert [(c["chapter"], c["first_chunk_id"], c["chunks"]) for c in roses["chapters"]] == [
        ("Chapter 1", "1002-00000", 3), ("Chapter 2", "1002-00003", 3)]
    whaling = await call(client, "describe_book", book="1001")
    assert whaling["chapters"] == [] and whaling["book"]["language"] == "en"

    collections = (await call(client, "list_collections"))["collections"]
    ours = next(c for c in collections if c["name"] == "library")
    assert ours["chunks"] == 18 and ours["default"] and ours["model"] != "unrecorded"


async def bad_inputs_are_one_sentence(client: Client) -> None:
    assert (await refused(client, "search", query="roses", collection="no-such-books")
            ).startswith("collection no-such-books does not exist")
    # One refusal leaves the server serving.
    assert (await call(client, "list_books"))["books"]
    assert (await refused(client, "search", query="roses", k=0)).startswith("k=0 is out of range")
    assert "out of range" in await refused(client, "ask", question="roses", k=1001)
    assert "argument k of search" in await refused(client, "search", query="roses", k="many")
    assert "argument mode of search" in await refused(client, "search", query="x", mode="fast")
    assert "not a Chroma filter" in await refused(client, "search", query="roses",
                                                  where={"position": {"$near": 1}})
    assert "not valid JSON" in await refused(client, "search", query="roses", where="{oops")
    assert "empty value" in await refused(client, "search", query="roses", book=[""])
    assert (await refused(client, "search", query="roses", book="9999")
            ).startswith("book 9999 is not in collection library; the list_books tool")
    assert "question is empty" in await refused(client, "search", query="  ")
    assert "argument query of search" in await refused(client, "search")
    assert "is not in collection" in await refused(client, "read_passage", chunk_id="nope")
    assert "is not in collection" in await refused(client, "read_passage", chunk_id="")
    assert "before=99 is out of range" in await refused(client, "read_passage",
                                                        chunk_id="1001-00000", before=99)
    assert "list_books" in await refused(client, "describe_book", book="9999")
    missing = await refused(client, "list_books", collection="novels")
    assert missing.startswith("collection novels does not exist") and "library" in missing
    assert "Unknown tool" in await refused(client, "delete_everything")
    assert (await call(client, "search", query="whale", k=1))["passages"][0]["book"] == "1001"


async def ask_cites_through_the_llm(client: Client, llm: LLMServer) -> None:
    before = len(llm.accepted())
    answer = await call(client, "ask", question="How were the roses pruned?", k=3, book="1002")
    assert len(llm.accepted()) == before + 1
    assert answer["question"] == "How were the roses pruned?"
    # The test chat server answers by citing the first labels it was given.
    assert answer["sources"] and all(s["book"] == "1002" for s in answer["sources"])
    assert all(s["label"] in answer["answer"] for s in answer["sources"])
    assert answer["unknown_citations"] == []


def stdio(library: Settings, errlog: Any, **env: str) -> Client:
    params = StdioServerParameters(command=RAGMILL, args=["mcp"], env=server_env(library, **env))
    return Client(stdio_client(params, errlog=errlog))


def test_stdio_client_calls_every_tool(library: Settings, tmp_path: Path) -> None:
    log = tmp_path / "mcp.log"

    async def session(llm: LLMServer) -> None:
        with open(log, "w") as errlog:
            async with stdio(library, errlog, LLM_BASE_URL=llm.url,
                             LLM_MODEL="test-model") as client:
                await tools_are_described(client)
                await search_reads_and_lists(client)
                await ask_cites_through_the_llm(client, llm)
                await bad_inputs_are_one_sentence(client)

    with serve_llm() as llm:
        anyio.run(session, llm)
    assert "Traceback" not in log.read_text(), log.read_text()


@contextmanager
def http_server(library: Settings, log: Path, **env: str) -> Iterator[str]:
    """`ragmill mcp --transport http` on a free loopback port; yields its /mcp URL."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [RAGMILL, "mcp", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(library, **env), stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_for_server(process, log, url, "ragmill mcp")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@asynccontextmanager
async def http_client(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (httpx2.AsyncClient(headers=headers, timeout=120) as http,
                Client(streamable_http_client(url, http_client=http)) as client):
        yield client


def test_http_without_a_token_on_loopback(library: Settings, tmp_path: Path) -> None:
    async def session(url: str) -> None:
        async with http_client(url, None) as client:
            await tools_are_described(client)
            found = await call(client, "search", query="a steam locomotive", k=2)
            assert found["passages"][0]["book"] == "1003"
            assert await refused(client, "ask", question="Who drove the engine?") == NO_LLM
            assert "k=0" in await refused(client, "search", query="engines", k=0)
            assert (await call(client, "list_books"))["books"]

    log = tmp_path / "http.log"
    with http_server(library, log) as url:
        anyio.run(session, url)
    assert "Traceback" not in log.read_text(), log.read_text()


def test_http_requires_the_token_when_set(library: Settings, tmp_path: Path) -> None:
    async def connect(url: str, token: str | None) -> list[str]:
        async with http_client(url, token) as client:
            found = await call(client, "search", query="whale oil", k=1, mode="keyword")
            return [p["chunk_id"] for p in found["passages"]]

    with http_server(library, tmp_path / "http.log", RAGMILL_SERVE_TOKEN=TOKEN) as url:
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}}
        accept = {"Accept": "application/json, text/event-stream"}
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"},
                        {"Authorization": TOKEN}):
            answer = requests.post(url, json=initialize, headers={**accept, **headers}, timeout=10)
            assert answer.status_code == 401 and answer.json() == {"error": REFUSAL}
            assert answer.headers["www-authenticate"] == "Bearer"
        # The SDK's client cannot even open a session without it.
        with pytest.raises(ExceptionGroup) as no_session:
            anyio.run(connect, url, None)
        assert no_session.group_contains(MCPError)
        assert anyio.run(connect, url, TOKEN) == ["1001-00003"]


def test_refuses_to_listen_beyond_loopback_without_a_token(library: Settings) -> None:
    port = str(free_port())
    done = subprocess.run([RAGMILL, "mcp", "--transport", "http", "--host", "0.0.0.0",
                           "--port", port], env=server_env(library), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "RAGMILL_SERVE_TOKEN" in lines[0], done.stderr
