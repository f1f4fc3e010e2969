"""`python -m pipeline.bench`: the same as `ragmill bench`."""

from __future__ import annotations

from pipeline.bench.command import bench

if __name__ == "__main__":
    bench()
