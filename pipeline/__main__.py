"""`python -m pipeline` runs the ragmill CLI."""

from pipeline.cli.main import main

main()
