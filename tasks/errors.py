"""The root of every error raised inside tasks/, so a front end maps them in one place.

    TaskError
    ├── SettingsError        a variable holds a value ragmill cannot use (tasks/setting_checks.py)
    ├── RecordMismatch       the collection was made by another model or form (collection_record)
    ├── MessageError         a task message that is not of its type (tasks/messages.py)
    ├── LayoutError          a model folder the ONNX backends cannot reproduce (embedding/layout)
    └── EndpointError        an OpenAI-compatible endpoint or its shared limit (endpoint/errors.py)
        ├── EndpointRateLimited, TransientEndpointError, AdmissionTimeout, RequestTooLarge
        ├── LLMError ...         the chat endpoint (tasks/llm/errors.py)
        └── RemoteEmbedError ... the embeddings endpoint (tasks/embedding/errors.py)

The first four also derive from ValueError, and the endpoint's from RuntimeError where they did,
so callers that caught those still do.
"""

from __future__ import annotations


class TaskError(Exception):
    """Something a worker or the engines it drives cannot do, in one line."""
