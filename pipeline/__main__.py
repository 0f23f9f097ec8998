"""`python -m pipeline` runs the claimwatch command line."""

from pipeline.cli import main

main()
