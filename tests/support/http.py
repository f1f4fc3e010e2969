"""Test servers share the thread-served HTTP handler of pipeline/local_http.py."""

from pipeline.local_http import QuietHandler, serve_http

__all__ = ["QuietHandler", "serve_http"]
