"""``python -m chaincrawler`` runs the command line."""

from chaincrawler.cli import main

main()
