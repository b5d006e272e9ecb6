"""``python -m docket`` runs the command line."""

from docket.cli import main

main()
