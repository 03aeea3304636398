"""The ``chaincrawler`` command line."""

from __future__ import annotations

import click

from chaincrawler import __version__


@click.group()
@click.version_option(__version__, prog_name="chaincrawler")
def main() -> None:
    """Index Bitcoin with reorg-aware event sourcing."""


@main.command()
def demo() -> None:
    """Run the demo on the embedded defaults."""
    click.echo(f"chaincrawler {__version__}: the crawler demo is not built yet.")
