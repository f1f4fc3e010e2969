"""Research benchmarks and harnesses, run from a checkout (`python -m benchmarks.NAME`).

Not part of the installed package: `ragmill bench` (pipeline/bench/) is what a user runs. These
measure one part at a time, each stating its command in its docstring.
"""
