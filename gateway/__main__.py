"""``python -m gateway`` runs the ``govconnect`` command line."""

from gateway.cli import main

main()
