"""``deskroute bench``: performance benchmarks (medians, and ratios against a baseline in the same run)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Performance benchmarks; figures as a table and, with --json, a file.", no_args_is_help=True)
