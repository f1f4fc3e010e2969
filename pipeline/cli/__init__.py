"""The `ragmill` command: the click group (main.py) and one module per group of commands.

Each command parses its options, calls one function of search/, ingest/, stack/, serve/ or eval/,
and shows the result (output.py); errors are mapped to one line and an exit code in output.py.
May import every other subpackage of pipeline/.
"""
