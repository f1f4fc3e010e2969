"""`python -m pipeline` runs the ragmill CLI."""

from pipeline.cli import main

main()
