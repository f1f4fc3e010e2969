"""Where text comes from: resolve, download, decode, strip boilerplate and chunk by tokens.

Pure functions and small dataclasses; nothing here knows about Celery, Redis or Chroma.
"""

from __future__ import annotations
