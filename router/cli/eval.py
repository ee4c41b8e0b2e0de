"""``deskroute eval``: offline evaluation on labelled files, with baselines fitted in the same run."""

from __future__ import annotations

import typer

from router.cli import eval_churn, eval_classify

app = typer.Typer(help="Offline evaluation on labelled data (cross-validation or a test file).", no_args_is_help=True)
app.command("churn")(eval_churn.churn)
app.command("classify")(eval_classify.classify)
