"""A workspace whose every stored text is hostile: terminal markup, escape sequences, bidi overrides, length.

Built the way a user fills a store (the importers, ``deskroute run --once`` over a file helpdesk) plus the store
API for what only a helpdesk or a failure produces (dead letters, odd sync cursors, corrections).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import click
import typer
from sqlmodel import select
from typer.testing import CliRunner, Result

from router.cli import app
from router.store import Store
from router.store.record_store import set_cursor
from router.store.tables import FeedbackRow, OutboxRow
from tests.conftest import REPO_ROOT

# Markup rich would act on (a closing tag without an opening one raises MarkupError, links become clickable),
# an emoji code, escape sequences (clear screen, window title, a C1 CSI), a backspace and a bidi override.
HOSTILE = (
    "[/] [bold]B[/bold] [link=https://example.invalid/x]L[/link] :smile: "
    "\x1b[2J\x1b]0;pwned\x07 \x9b31m \x08 \u202eevil\u202c"
)
LONG = " " + "y" * 3000
# As long as a short field (a subject, a name) may be: the records refuse longer ones.
LONG_SHORT = " " + "y" * 800
# What must never reach the terminal: C0 controls but tab and newline, DEL, C1, bidi overrides and isolates.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Pieces of HOSTILE that a literal rendering shows as written.
LITERAL = ("[/]", "[bold]B[/bold]")

STARTER = REPO_ROOT / "policies" / "examples" / "starter.yaml"
TICKET_ID = "T[/]1"

runner = CliRunner()


def command_paths() -> list[str]:
    """Every command of the CLI, as the words a user types, taken from the Typer application itself."""
    root = typer.main.get_command(app)

    def walk(group: click.Command, prefix: tuple[str, ...]) -> list[str]:
        found = []
        for name, command in sorted(getattr(group, "commands", {}).items()):
            if hasattr(command, "commands"):
                found += walk(command, (*prefix, name))
            else:
                found.append(" ".join((*prefix, name)))
        return found

    return walk(root, ())


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, args, env={"COLUMNS": "250", **(env or {})})


def _ticket(external_id: str, queue: str) -> dict[str, object]:
    return {
        "id": external_id,
        "subject": "refund " + HOSTILE + LONG_SHORT,
        "body": HOSTILE + LONG,
        "requester": "c1",
        "organization": HOSTILE,
        "channel": HOSTILE,
        "status": "new",
        "priority": "high",
        "queue": queue,
        "assignee": HOSTILE,
        "tags": [HOSTILE, "billing"],
        "language": "en",
        "created_at": "2026-01-05T09:00:00+00:00",
        "updated_at": "2026-01-05T09:00:00+00:00",
        "answer": HOSTILE,
        "x[/]field": HOSTILE,
    }


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build(root: Path) -> dict[str, str]:
    """Fill ``root`` with hostile files, configuration and store; returns the environment that points at them."""
    env = {
        "DESKROUTE_CONFIG": str(root / "deskroute.toml"),
        "DESKROUTE_DATABASE_URL": f"sqlite:///{root / 'deskroute.db'}",
        "DESKROUTE_DATA_DIR": str(root / "data"),
    }
    shutil.copy(STARTER, root / "po[red]licy.yaml")
    shutil.copy(STARTER.with_name("starter.tests.yaml"), root / "po[red]licy.tests.yaml")
    changed = STARTER.read_text(encoding="utf-8").replace("- add_tags: [billing]", "- add_tags: [billing, refund]")
    (root / "po[red]licy2.yaml").write_text(changed, encoding="utf-8")
    (root / "bad[red]policy.yaml").write_text(
        f"version: 1\nname: {json.dumps(HOSTILE)}\nqueues:\n  {json.dumps(HOSTILE)}: 3\nrules: {json.dumps(HOSTILE)}\n",
        encoding="utf-8",
    )
    _jsonl(root / "tick[red]ets.jsonl", [_ticket(TICKET_ID, HOSTILE), _ticket("T2", "Billing and Payments")])
    _jsonl(root / "bad[red]rows.jsonl", [_ticket("T3", HOSTILE), {**_ticket("T4", HOSTILE), "priority": HOSTILE}])
    _jsonl(
        root / "custom[red]ers.jsonl",
        [{"id": "c1", "email": "c1@example.invalid", "name": HOSTILE, "organization": HOSTILE, "plan": HOSTILE}],
    )
    _jsonl(
        root / "eve[red]nts.jsonl",
        [{"id": "e1", "customer": "c1", "kind": "login", "occurred_at": "2026-01-04T09:00:00Z", "page": HOSTILE}],
    )
    _jsonl(root / "incoming.jsonl", [_ticket("N[/]1", HOSTILE), _ticket("N2", "Inbox")])
    (root / "label[red]led.csv").write_text(
        "id,subject,body,queue\n"
        + "".join(f'L{i},"refund {HOSTILE} {i}","refund {HOSTILE}",{HOSTILE if i % 2 else "Q"}\n' for i in range(3)),
        encoding="utf-8",
    )
    (root / "churn[red].csv").write_text(
        "id,plan,calls,churn\n"
        + "".join(f"c{i},{HOSTILE if i % 2 else 'basic'},{i},{'yes' if i % 3 == 0 else 'no'}\n" for i in range(12)),
        encoding="utf-8",
    )
    (root / "deskroute.toml").write_text(
        f"policy = {json.dumps(str(root / 'po[red]licy.yaml'))}\n"
        "[connectors.helpdesk]\n"
        'type = "file"\nmode = "suggest"\n'
        f"path = {json.dumps(str(root / 'incoming.jsonl'))}\n"
        f"actions_path = {json.dumps(str(root / 'actions.jsonl'))}\n"
        "[connectors.other]\n"
        'type = "file"\n'
        f"path = {json.dumps(str(root / 'other.jsonl'))}\n",
        encoding="utf-8",
    )
    _jsonl(root / "other.jsonl", [])
    for kind, name in (
        ("tickets", "tick[red]ets.jsonl"),
        ("customers", "custom[red]ers.jsonl"),
        ("events", "eve[red]nts.jsonl"),
    ):
        result = invoke(["import", kind, str(root / name), "--source", "helpdesk"], env)
        assert result.exit_code == 0, result.output
    assert invoke(["pause", "--reason", HOSTILE], env).exit_code == 0
    assert invoke(["resume"], env).exit_code == 0
    result = invoke(["run", "--once"], env)
    assert result.exit_code == 0, result.output
    store = Store(env["DESKROUTE_DATABASE_URL"])
    with store.session() as s:
        for row in s.exec(select(OutboxRow)).all():
            row.state, row.attempts, row.last_error = "dead", 5, HOSTILE + LONG
            s.add(row)
        s.add(
            FeedbackRow(
                source="helpdesk",
                ticket_external_id="N[/]1",
                field="queue",
                predicted=HOSTILE,
                corrected=HOSTILE,
                corrected_by=HOSTILE,
                recorded_at=datetime.now(UTC),
            )
        )
        set_cursor(s, "other", {"since": HOSTILE})
        s.commit()
    store.dispose()
    return env


def check_output(result: Result, what: str) -> None:
    """Exit 0, or a clear error (1 with an "error:" line, 2 with a usage message); no traceback; nothing raw."""
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{what}: raised {result.exception!r}\n{output[-2000:]}"
    )
    assert "Traceback" not in output, f"{what}: traceback\n{output[-2000:]}"
    if result.exit_code == 1:
        assert "error:" in output, f"{what}: exit 1 without an error line\n{output[-2000:]}"
    elif result.exit_code == 2:
        assert "Usage" in output or "error" in output.lower(), f"{what}: exit 2 without usage\n{output[-2000:]}"
    else:
        assert result.exit_code == 0, f"{what}: exit {result.exit_code}\n{output[-2000:]}"
    found = FORBIDDEN.search(output)
    assert found is None, f"{what}: control character {found.group(0)!r} reached the output" if found else ""
