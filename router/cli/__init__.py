"""The ``deskroute`` command line: the composition root, the one place that may import every package.

Each command group lives in its own module; heavy libraries are imported inside the commands so that
``deskroute --help`` stays fast.
"""

from __future__ import annotations

import os

import typer

from router.cli import (
    agent,
    bench,
    config_cmds,
    connectors_cmds,
    customers_cmds,
    data,
    db,
    decisions_cmds,
    demo,
    eval,
    index_cmds,
    models,
    policy,
    run,
    serve_cmds,
    sync_cmds,
    tokens_cmds,
    worker_cmds,
)

# Model loading is offline and quick: the libraries' own progress bars (carriage returns and all) would only
# clutter the output. Set when the CLI is imported, before any command imports those libraries, so that the
# application behaves the same however it is started.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    name="deskroute",
    help="Support-ticket routing agent: import, learn, decide and act inside your helpdesk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.add_typer(db.app, name="db")
app.add_typer(config_cmds.app, name="config")
app.add_typer(data.import_app, name="import")
app.add_typer(eval.app, name="eval")
app.add_typer(bench.app, name="bench")
app.add_typer(index_cmds.app, name="index")
app.add_typer(policy.app, name="policy")
app.add_typer(connectors_cmds.app, name="connectors")
app.add_typer(customers_cmds.app, name="customers")
app.command("sync")(sync_cmds.sync)
app.command("stats")(data.stats)
app.command("demo")(demo.demo)
app.command("train")(models.train)
app.command("predict")(models.predict)
app.command("pause")(agent.pause)
app.command("resume")(agent.resume)
app.add_typer(agent.outbox_app, name="outbox")
app.add_typer(decisions_cmds.app, name="decisions")
app.command("run")(run.run)
app.command("serve")(serve_cmds.serve)
app.add_typer(tokens_cmds.app, name="tokens")
app.command("worker")(worker_cmds.worker)


def main() -> None:
    """Console-script entry point."""
    app()
