"""Every failure of a tool as one sentence an agent can act on, in one place.

A tool error reaches the agent as text (`is_error`), never as a stack trace, and the server goes
on serving. The messages are the library's own (the CLI and the search service say the same);
only arguments that fail a tool's input schema and unforeseen failures are worded here.
"""

from __future__ import annotations

import logging

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError

from pipeline.errors import RagmillError
from tasks.errors import TaskError
from tasks.llm.errors import LLMError

log = logging.getLogger(__name__)

# The library's messages point a person at the CLI; an agent has tools and arguments instead.
CLI_HINTS = (
    ("`ragmill collections`", "the list_collections tool"),
    ("`ragmill books`", "the list_books tool"),
    ("--where", "where"),
)


def one_sentence(failure: ToolError, tool: str) -> str:
    """What to tell the agent about the SDK's `failure` of a call of `tool`.

    The SDK raises ToolError for arguments that fail the input schema (its cause a pydantic
    ValidationError) and for an unknown tool (no cause), and UnexpectedToolError for whatever
    the tool raised (its cause).
    """
    cause = failure.__cause__
    if cause is None:  # an unknown tool: the SDK's own line names it
        message = str(failure)
    elif isinstance(cause, ValidationError) and not isinstance(failure, UnexpectedToolError):
        first = cause.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "arguments"
        message = (f"argument {where} of {tool}: {first.get('msg', 'invalid')}; "
                   "the tool's input schema says what it takes")
    elif isinstance(cause, LLMError):
        message = f"the LLM could not answer: {cause}"
    elif isinstance(cause, RagmillError | TaskError):
        # The two roots of ragmill's own errors: a mistake to fix (UsageError, an unknown
        # collection), a service that did not answer, an endpoint or its shared limit spent.
        # Each is already one line that says what to do.
        message = str(cause)
    else:
        # A fault of ours, not the agent's: the operator gets the traceback on stderr.
        log.error("tool %s failed unexpectedly", tool, exc_info=cause)
        text = str(cause).strip()
        message = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    for cli, tool_hint in CLI_HINTS:
        message = message.replace(cli, tool_hint)
    lines = message.strip().splitlines()
    return lines[0] if lines else message
