"""What runs inside a ragmill worker: the Celery app, its tasks and the engines they drive."""

from tasks.app import app

__all__ = ["app"]
