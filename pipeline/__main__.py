"""`python -m pipeline` runs the claimwatch command line."""

from pipeline.commands import main

main()
