"""What `deskroute import` accepts and refuses: the same on SQLite and PostgreSQL, every refusal a bad row
that names the file, line and field (never a traceback), nothing coerced silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from router.cli import app

runner = CliRunner()
GOOD = {"id": "good-1", "subject": "Refund", "body": "Charged twice", "updated_at": "2026-03-01T10:00:00Z"}


@pytest.fixture
def db_env(cli_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DESKROUTE_DATABASE_URL", database_url)
    return database_url


def jsonl(folder: Path, rows: list[dict | str], name: str = "t.jsonl") -> str:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def imported(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.replace("\n", " ")


def stored(url: str, column: str, external_id: str, table: str = "tickets") -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text(f"select {column} from {table} where external_id = :id"), {"id": external_id}
            ).scalar_one_or_none()
    finally:
        engine.dispose()


def ticket_count() -> int:
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["counts"]["tickets"])


def test_nul_characters_are_stripped_and_oversized_ids_skipped_on_both_databases(cli_env: Path, db_env: str) -> None:
    name = jsonl(
        cli_env,
        [
            GOOD,
            {**GOOD, "id": "nul-1", "subject": "sub\x00ject", "body": "bo\x00dy", "plan": {"ti\x00er": "v\x00ip"}},
            {**GOOD, "id": "x" * 9_000},
            {**GOOD, "id": "long-requester", "requester": "r" * 9_000},
            {**GOOD, "id": "good-2"},
        ],
    )
    code, out = imported("tickets", name, "--on-error", "skip")
    assert code == 0, out
    assert "t.jsonl:3: field 'external_id': 9,000 characters long; the most allowed is 255" in out
    assert "t.jsonl:4: field 'requester': 9,000 characters long" in out
    assert "skipped 2 bad row(s)" in out and ticket_count() == 3
    assert stored(db_env, "subject", "nul-1") == "subject" and stored(db_env, "body", "nul-1") == "body"
    custom = stored(db_env, "custom_fields", "nul-1")
    assert (json.loads(custom) if isinstance(custom, str) else custom) == {"plan": {"tier": "vip"}}


def test_abort_writes_nothing_when_one_row_is_poison(cli_env: Path, db_env: str) -> None:
    name = jsonl(cli_env, [GOOD, {**GOOD, "id": "big", "body": "b" * 1_000_001}])
    code, out = imported("tickets", name)
    assert code == 1 and "t.jsonl:2: field 'body': 1,000,001 characters long" in out
    assert "nothing was written" in out and ticket_count() == 0


def test_a_line_nested_100000_deep_is_a_bad_row(cli_env: Path, db_env: str) -> None:
    deep = '{"id": "deep", "subject": "s", "body": "b", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    nested: dict = {"leaf": 1}
    for _ in range(40):
        nested = {"level": nested}
    huge_number = '{"id": "n", "subject": "s", "body": "b", "extra": ' + "9" * 5_000 + "}"
    name = jsonl(cli_env, [GOOD, deep, {**GOOD, "id": "nested", "extra": nested}, huge_number])
    code, out = imported("tickets", name, "--on-error", "skip")
    assert code == 0, out
    assert "t.jsonl:2: JSON nested too deeply" in out
    assert "t.jsonl:3: field 'custom_fields': extra.level" in out and "nested more than 16 levels" in out
    assert "t.jsonl:4: not readable JSON (Exceeds the limit" in out
    assert ticket_count() == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"created_at": "0001-01-01T00:00:00+14:00"}, "field 'created_at': 0001-01-01T00:00:00+14:00 is out of range"),
        (
            {"created_at": "2026-01-01T00:00:00Z", "updated_at": "9999-12-31T00:00:00Z"},
            "field 'updated_at': 9999-12-31T00:00:00+00:00 is not a plausible time (deskroute accepts 1970-01-02 to",
        ),
        ({"created_at": "1969-07-20T20:17:00Z"}, "field 'created_at': 1969-07-20T20:17:00+00:00 is not a plausible"),
        ({"created_at": True}, "field 'created_at': the boolean true is not a time"),
        ({"created_at": 1_700_000_000}, "field 'created_at': the number 1700000000 is not a time"),
        ({"created_at": "1700000000"}, "field 'created_at': '1700000000' is not an ISO 8601 time"),
        (
            {"created_at": "2026-03-02T00:00:00Z"},
            "field 'updated_at': 2026-03-01T10:00:00+00:00 is before created_at (2026-03-02T00:00:00+00:00)",
        ),
        ({"subject": {"a": 1}}, "field 'subject': must be a string, not a JSON object"),
        ({"body": ["a"]}, "field 'body': must be a string, not a JSON array"),
        ({"queue": 7}, "field 'queue': must be a string, not the number 7"),
        ({"tags": ["ok", {"x": 1}]}, "field 'tags': every tag must be a string"),
        ({"id": True}, "field 'external_id': must be a string, not the boolean true"),
        ({"body": "\ud800"}, "field 'body': not valid Unicode"),
        ({"score": float("nan")}, "field 'custom_fields': score: nan is not a JSON number"),
        ({"priority": "whenever"}, "field 'priority': 'whenever' is not a known priority"),
    ],
)
def test_silent_coercions_are_refused_with_the_field(cli_env: Path, db_env: str, change: dict, expected: str) -> None:
    name = jsonl(cli_env, [{**GOOD, "id": "bad", **change}])
    code, out = imported("tickets", name)
    assert code == 1
    assert f"t.jsonl:1: {expected}" in out


def test_numeric_ids_and_basic_iso_dates_are_read_as_meant(cli_env: Path, db_env: str) -> None:
    name = jsonl(cli_env, [{**GOOD, "id": 42, "created_at": "20260301", "updated_at": "2026-03-01T10:00:00+02:00"}])
    code, out = imported("tickets", name)
    assert code == 0, out
    assert stored(db_env, "subject", "42") == "Refund"


def test_a_repeated_id_is_a_bad_row_naming_the_first(cli_env: Path, db_env: str) -> None:
    name = jsonl(cli_env, [GOOD, {**GOOD, "id": "other"}, {**GOOD, "subject": "changed"}])
    code, out = imported("tickets", name)
    assert code == 1 and "t.jsonl:3: field 'external_id': 'good-1' is also on line 1" in out
    code, out = imported("tickets", name, "--on-error", "skip")
    assert code == 0 and ticket_count() == 2
    assert stored(db_env, "subject", "good-1") == "Refund"
    (cli_env / "e.csv").write_text(
        "customer,kind,occurred_at\nu1,login,2026-03-01T10:00:00Z\nu1,login,2026-03-01T10:00:00Z\n", encoding="utf-8"
    )
    code, out = imported("events", "e.csv")
    assert code == 1 and "e.csv:3: field 'external_id'" in out and "the same event as line 2" in out


def test_a_mapping_typo_is_refused_with_the_valid_fields(cli_env: Path, db_env: str) -> None:
    (cli_env / "t.csv").write_text("subject,body,text\nHi,Printer on fire,other\n", encoding="utf-8")
    code, out = imported("tickets", "t.csv", "--map", "bodyy=text")
    assert code == 1
    assert "--map bodyy=text: tickets have no field 'bodyy'; did you mean 'body'?" in out
    assert "valid fields: answer, assignee, body," in out
    code, out = imported("tickets", "t.csv", "--map", "body=description")
    assert code == 1 and "--map body=description: the file has no column 'description'" in out
    assert "(its columns: body, subject, text)" in out
    name = jsonl(cli_env, [GOOD])
    code, out = imported("tickets", name, "--map", "queue=group")
    assert code == 1 and "the file has no column 'group'" in out
    code, out = imported("tickets", "t.csv", "--map", "id=text")  # the README's column name works as a field
    assert code == 0, out
    assert stored(db_env, "body", "other") == "Printer on fire"
    assert ticket_count() == 1


def test_an_unterminated_quote_is_named_with_its_line(cli_env: Path, db_env: str) -> None:
    (cli_env / "t.csv").write_text(
        'id,subject,body\n1,Hi,fine\n2,"Oops,never closed\n3,Next,swallowed\n4,Last,"swallowed too"\n',
        encoding="utf-8",
    )
    code, out = imported("tickets", "t.csv", "--on-error", "skip")
    assert code == 1
    assert "t.csv:3: unterminated quote starting at line 3: the field opened there only closes on line 5" in out
    (cli_env / "t.csv").write_text('id,subject,body\n1,Hi,fine\n2,"Oops,never closed\n3,Next,swallowed\n')
    code, out = imported("tickets", "t.csv", "--on-error", "skip")
    assert code == 1
    assert 't.csv:3: unterminated quote starting at line 3: a field opened with " never closes' in out
    (cli_env / "t.csv").write_text('id,subject,body\n1,Hi,"fine" print\n')
    code, out = imported("tickets", "t.csv")
    assert code == 1 and "t.csv:2: text after a closing quote in the row starting at line 2" in out
    assert ticket_count() == 0


def test_jsonl_and_csv_share_the_field_cap(cli_env: Path, db_env: str) -> None:
    (cli_env / "t.csv").write_text(f"id,subject,body\n1,Hi,{'b' * 1_000_001}\n", encoding="utf-8")
    code, out = imported("tickets", "t.csv")
    assert code == 1 and "t.csv:2: a field is longer than 1,000,000 characters" in out
    name = jsonl(cli_env, [{**GOOD, "body": "b" * 1_000_000}])
    code, out = imported("tickets", name)
    assert code == 0, out
