"""What the terminal shows: data as written, no escape sequences, no secrets, messages that say what is wrong."""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path

import httpx
import pytest
from rich.progress import TextColumn

from connectors.errors import RateLimited
from connectors.http import HttpClient, parse_retry_after
from router.cli.common import LiteralConsole, progress
from tests.cli.helpdesk_server import helpdesk_server
from tests.cli.hostile import FORBIDDEN, STARTER, check_output, invoke

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e"


def run(args: list[str]) -> str:
    result = invoke(args)
    check_output(result, " ".join(args))
    return result.output


def test_policy_explain_shows_markup_in_a_subject_as_written(cli_env: Path) -> None:
    # The trace quotes the first 60 characters of a value: the pieces come first.
    ticket = {"subject": "Refund [/] :smile: [b]x[/b] [link=https://e.x]c[/link]" + ESCAPES}
    output = run(["policy", "explain", str(STARTER), "--ticket", json.dumps(ticket)])
    assert "Refund [/] :smile: [b]x[/b] [link=https://e.x]c[/link]" in output
    assert not FORBIDDEN.search(output)


def test_error_lines_show_markup_as_written(cli_env: Path) -> None:
    result = invoke(["decisions", "show", "[/][red]x\x1b[2J"])
    assert result.exit_code == 1
    assert "error: no decision recorded for ticket '[/][red]x" in result.output
    assert not FORBIDDEN.search(result.output)
    result = invoke(["connectors", "check", "nosuch"])
    assert result.exit_code == 1 and "add a [connectors.nosuch] table" in result.output


def test_skipped_rows_with_markup_are_listed_after_the_good_rows_are_stored(cli_env: Path) -> None:
    (cli_env / "t.csv").write_text(
        "id,subject,body,priority\nA,Refund [/] now,body [bold]x[/bold],high\nB,bad,row,[/]soon\x1b[2J\n",
        encoding="utf-8",
    )
    output = run(["import", "tickets", "t.csv", "--on-error", "skip"])
    assert "1 tickets stored, skipped 1 bad row(s)" in output
    assert "t.csv:3: field 'priority'" in output and "'[/]soon" in output
    stats = json.loads(invoke(["stats", "--json"]).stdout)
    assert stats["counts"]["tickets"] == 1


def test_policy_validate_prints_problems_without_markup_tags(cli_env: Path) -> None:
    (cli_env / "bad.yaml").write_text("version: 1\nname: x\nrules: [/]\n", encoding="utf-8")
    result = invoke(["policy", "validate", "bad.yaml"])
    assert result.exit_code == 1
    assert "bad.yaml:" in result.output and "[red]" not in result.output and "[/]" not in result.output.split("\n")[0]


def test_json_output_escapes_control_and_bidi_characters(cli_env: Path) -> None:
    queue = "Billing [/]\x1b[2J\x9b\u202e\u2028"
    (cli_env / "t.jsonl").write_text(json.dumps({"id": "A", "subject": "s", "body": "b", "queue": queue}) + "\n")
    run(["import", "tickets", "t.jsonl"])
    result = invoke(["stats", "--json"])
    assert not FORBIDDEN.search(result.stdout) and "\u2028" not in result.stdout
    assert json.loads(result.stdout)["tickets_by_queue"] == {queue: 1}
    assert "Billing [/]" in run(["stats"])


def test_progress_descriptions_and_status_messages_are_literal() -> None:
    out = io.StringIO()
    console = LiteralConsole(file=out, force_terminal=True, width=100)
    with progress(TextColumn("syncing [/] [bold]x"), TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task("[/]\x1b]0;title\x07 step", total=2)
        bar.update(task, advance=1, description="[/red] next")
        bar.refresh()
    with console.status("training '[/]'") as status:
        status.update("step [/b]\x1b[2J")
    shown = out.getvalue()
    assert "syncing [/] [bold]x" in shown and "[/red] next" in shown and "step [/b]" in shown
    # The console styles its own output (a terminal was forced); the data's escape sequences are gone.
    assert "\x1b]0;" not in shown and "\x07" not in shown and "\x1b[2J" not in shown


def test_config_show_masks_every_credential_in_urls(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (cli_env / "deskroute.toml").write_text(
        "[connectors.rt]\n"
        'type = "rt"\n'
        'base_url = "http://agent:Hunter2-secret@rt.example.invalid/?token=tok-secret&page=2"\n'
        'token_env = "RT_TOKEN"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("RT_TOKEN", "env-token-secret")
    for url, masked in (
        ("postgresql://db.example.invalid/desk?user=u&password=query-secret", "?user=u&password=***"),
        ("postgresql://u:p@ss:w@rd-secret@db.example.invalid/desk", "postgresql+psycopg://u:***@db.example.invalid"),
    ):
        monkeypatch.setenv("DESKROUTE_DATABASE_URL", url)
        output = run(["config", "show"])
        # No secret value: the key names (webhook_secret_env) may say "secret", the values may not.
        assert masked in output and "-secret" not in output and "ss:w" not in output
        data = json.loads(output)
        assert data["connectors"]["rt"]["base_url"] == "http://agent:***@rt.example.invalid/?token=***&page=2"
        assert data["connectors"]["rt"]["token_env"] == "RT_TOKEN (set)"


def test_database_connection_errors_mask_the_password(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", "postgresql://127.0.0.1:1/desk?user=u&password=query-secret")
    for args in (["stats"], ["db", "current"], ["db", "upgrade"]):
        result = invoke(args)
        assert result.exit_code == 1 and "error: cannot open the database" in result.output
        # The database is named by host, port and name; its query (which holds the password here) is not shown.
        assert "postgresql+psycopg://127.0.0.1:1/desk" in result.output and "query-secret" not in result.output


def test_a_folder_given_as_a_file_says_so(cli_env: Path) -> None:
    (cli_env / "exports").mkdir()
    result = invoke(["import", "tickets", "exports"])
    assert result.exit_code == 1 and "exports: is a folder, not a file" in result.output


@pytest.mark.parametrize(("codec", "order"), [("utf-16-le", "le"), ("utf-16-be", "be")])
def test_utf16_without_a_byte_order_mark_is_named(cli_env: Path, codec: str, order: str) -> None:
    (cli_env / "t.csv").write_bytes("subject,body\nRefund,Charged twice\n".encode(codec))
    result = invoke(["import", "tickets", "t.csv"])
    assert result.exit_code == 1
    assert f"looks like UTF-16 without a byte-order mark; pass --encoding utf-16-{order}" in result.output
    assert "missing" not in result.output
    assert "1 tickets stored" in run(["import", "tickets", "t.csv", "--encoding", codec])


def test_policy_simulate_takes_the_encoding_it_advises(cli_env: Path) -> None:
    (cli_env / "t.csv").write_bytes("subject,body,queue\nRückerstattung,Zähler,Billing\n".encode("cp1252"))
    result = invoke(["policy", "simulate", str(STARTER), "--dataset", "t.csv", "--rules-only", "--encoding", "utf-8"])
    assert result.exit_code == 1 and "cannot decode as utf-8" in result.output and "--encoding" in result.output
    for args in (["simulate", str(STARTER)], ["diff", str(STARTER), str(STARTER)]):
        run(["policy", *args, "--dataset", "t.csv", "--rules-only", "--encoding", "cp1252"])


def _rt_config(cli_env: Path, base_url: str) -> None:
    (cli_env / "deskroute.toml").write_text(
        f'[connectors.rt]\ntype = "rt"\nbase_url = "{base_url}"\ntoken_env = "RT_TOKEN"\n', encoding="utf-8"
    )


def test_a_redirect_says_where_it_points(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RT_TOKEN", "token-value")
    with helpdesk_server() as server:
        _rt_config(cli_env, f"{server}/moved")
        result = invoke(["connectors", "check", "rt"])
    assert result.exit_code == 1
    assert "redirected (302) to https://sso:***@login.example.invalid/saml;" in result.output
    assert "not JSON" not in result.output and "SSredirect1" not in result.output


def test_an_endless_wait_is_said_in_words(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RT_TOKEN", "token-value")
    with helpdesk_server() as server:
        _rt_config(cli_env, f"{server}/slow-down")
        result = invoke(["connectors", "check", "rt"])
    # Believed for a day at most, and said in words: no "inf", no eleven digits.
    assert result.exit_code == 1 and "asks to wait 24.0 hours" in result.output
    assert "inf" not in result.output and "99999" not in result.output


def test_a_retry_after_of_inf_or_nan_is_no_wait() -> None:
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None and parse_retry_after("-inf") is None
    sleeps: list[float] = []
    transport = httpx.MockTransport(lambda request: httpx.Response(429, headers={"Retry-After": "inf"}))
    client = HttpClient(
        "https://desk.example.invalid", connector="desk", transport=transport, sleep=sleeps.append, rng=random.Random(1)
    )
    with pytest.raises(RateLimited) as caught:
        client.get("tickets")
    assert "inf" not in str(caught.value) and all(math.isfinite(s) for s in sleeps)


def test_an_abstention_prints_the_digits_that_differ(cli_env: Path) -> None:
    signals = {"intent": "Billing and Payments", "intent_probability": 0.4999}
    output = run(
        ["policy", "explain", str(STARTER), "--ticket", '{"subject": "hello"}', "--signals", json.dumps(signals)]
    )
    assert "at 0.4999 is below the policy's min_confidence 0.5" in output
    assert "0.50 is below" not in output


def test_a_rate_budget_never_waits_for_ever_on_a_broken_reset_header() -> None:
    from connectors.http import MAX_RESET_SECONDS, RateBudget

    for reset in ("inf", "1e308"):
        budget = RateBudget(clock=lambda: 100.0, wall_clock=lambda: 1.7e9)
        budget.observe({"x-ratelimit-remaining": "0", "x-ratelimit-limit": "100", "x-ratelimit-reset": reset})
        assert math.isfinite(budget.delay()) and budget.delay() <= MAX_RESET_SECONDS


def test_an_endless_retry_after_reschedules_an_action_within_a_day(sqlite_url: str) -> None:
    from datetime import timedelta

    from sqlmodel import select

    from router.loop.apply import MAX_RETRY_AFTER_SECONDS, drain
    from router.store import Store
    from router.store.tables import OutboxRow
    from tests.router.test_outbox import ACTIONS, NOW, RefusingHelpdesk, queue_actions

    store = Store(sqlite_url)
    queue_actions(store, ACTIONS[:1])
    drain(store, {"rt": (RefusingHelpdesk(RateLimited("slow down", retry_after=1e308)), "auto")}, now=NOW)
    with store.session() as s:
        row = s.exec(select(OutboxRow)).one()
    assert row.state == "failed" and row.next_attempt_at <= NOW + timedelta(seconds=MAX_RETRY_AFTER_SECONDS)
