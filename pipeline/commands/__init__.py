"""The `ragmill` subcommands, each a thin shell over a library call in pipeline/."""
