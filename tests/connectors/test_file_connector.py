"""The file connector: tickets read in batches with a resumable cursor; actions appended once per key."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from connectors import Action
from connectors.file_connector import FileConnector, FileSettings
from connectors.files import FileFormatError

HEADER = "id,subject,body,requester,queue,priority,updated_at\n"


def rows(first: int, last: int) -> str:
    return "".join(
        f"{n},Subject {n},Body {n},c{n % 3}@example.com,Billing,high,2026-01-0{1 + n % 9}T10:00:00Z\n"
        for n in range(first, last + 1)
    )


def test_pull_in_batches_resumes_after_an_append_and_restarts_on_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(HEADER + rows(1, 5), encoding="utf-8")
    conn = FileConnector("dry", FileSettings(path=path, page_size=2))
    batches = list(conn.pull(None))
    assert [[t.external_id for t in b.tickets] for b in batches] == [["1", "2"], ["3", "4"], ["5"]]
    assert all(t.source == "dry" for b in batches for t in b.tickets)
    cursor = batches[-1].cursor
    assert list(conn.pull(cursor)) == []  # nothing new
    with path.open("a", encoding="utf-8") as fh:
        fh.write(rows(6, 7))
    assert [t.external_id for b in conn.pull(cursor) for t in b.tickets] == ["6", "7"]
    path.write_text(HEADER + rows(10, 11), encoding="utf-8")  # replaced, not appended
    assert [t.external_id for b in conn.pull(cursor) for t in b.tickets] == ["10", "11"]


def test_bad_rows_are_reported_with_their_line_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(HEADER + "1,Ok,Body,a@example.com,Billing,high,2026-01-01\n2,Bad,Body,b@x,Billing,sky-high,\n")
    (batch,) = list(FileConnector("dry", FileSettings(path=path)).pull(None))
    assert [t.external_id for t in batch.tickets] == ["1"]
    assert len(batch.refused) == 1 and "tickets.csv:3" in str(batch.refused[0]) and batch.refused[0].field == "priority"


def test_customer_history_and_since(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"id": n, "subject": f"s{n}", "body": "b", "requester": who, "updated_at": when})
            for n, who, when in [
                (1, "Ann@example.com", "2026-01-01T00:00:00Z"),
                (2, "bob@example.com", "2026-02-01T00:00:00Z"),
                (3, "ann@example.com", "2026-03-01T00:00:00Z"),
            ]
        )
        + "\n"
    )
    conn = FileConnector("dry", FileSettings(path=path))
    history = conn.customer_history("ann@example.com")
    assert [t.external_id for t in history.tickets] == ["1", "3"]
    from datetime import UTC, datetime

    since = conn.cursor_since(datetime(2026, 2, 1, tzinfo=UTC))
    assert [t.external_id for b in conn.pull(since) for t in b.tickets] == ["2", "3"]


def test_apply_appends_each_action_once_by_idempotency_key(tmp_path: Path) -> None:
    out = tmp_path / "out" / "actions.jsonl"
    conn = FileConnector("dry", FileSettings(actions_path=out))
    route = Action(kind="route", target="42", params={"queue": "Billing"})
    note = Action(kind="add_note", target="42", params={"body": "why"}, idempotency_key="decision-7:note")
    assert conn.apply(route).status == "applied"
    assert conn.apply(note).status == "applied"
    assert conn.apply(route).status == "already_applied"
    # another process (here: another instance) sees the keys already in the file
    again = FileConnector("dry", FileSettings(actions_path=out)).apply(note)
    assert again.status == "already_applied" and again.external_ref == "2"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["kind"], e["target"], e["idempotency_key"]) for e in lines] == [
        ("route", "42", route.idempotency_key),
        ("add_note", "42", "decision-7:note"),
    ]
    assert lines[0]["params"] == {"queue": "Billing"} and lines[0]["connector"] == "dry"


def test_a_hand_edited_actions_file_does_not_break_apply(tmp_path: Path) -> None:
    out = tmp_path / "actions.jsonl"
    out.write_text('not json\n{"idempotency_key": "k1", "kind": "route"}\n')
    conn = FileConnector("dry", FileSettings(actions_path=out))
    action = Action(kind="route", target="1", params={"queue": "Q"}, idempotency_key="k1")
    assert conn.apply(action).status == "already_applied"
    out.write_text("")  # truncated: what it knew is forgotten
    assert conn.apply(action).status == "applied"


def test_a_line_cut_short_by_a_killed_writer_is_ended_before_the_next_one(tmp_path: Path) -> None:
    out = tmp_path / "actions.jsonl"
    out.write_text('{"idempotency_key": "k1", "kind": "route"}\n{"idempotency_key": "k2", "ki')  # died mid-line
    conn = FileConnector("dry", FileSettings(actions_path=out))
    assert conn.apply(Action(kind="route", target="1", params={"queue": "Q"}, idempotency_key="k1")).status == (
        "already_applied"
    )
    assert conn.apply(Action(kind="route", target="2", params={"queue": "Q"}, idempotency_key="k2")).status == "applied"
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["idempotency_key"] == "k2"  # whole, on a line of its own


def _apply_many(path: str, start: int) -> None:
    conn = FileConnector("dry", FileSettings(actions_path=Path(path)))
    for n in range(40):
        conn.apply(
            Action(kind="add_tags", target=str(n), params={"tags": ["x"]}, idempotency_key=f"k{(n + start) % 40}")
        )


def test_concurrent_writers_append_each_key_once(tmp_path: Path) -> None:
    out = tmp_path / "actions.jsonl"
    workers = [multiprocessing.get_context("fork").Process(target=_apply_many, args=(str(out), s)) for s in (0, 13, 27)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    keys = [json.loads(line)["idempotency_key"] for line in out.read_text().splitlines()]
    assert sorted(keys) == sorted(f"k{n}" for n in range(40))


def test_check_reports_missing_files(tmp_path: Path) -> None:
    good = tmp_path / "t.csv"
    good.write_text(HEADER + rows(1, 2))
    report = FileConnector("dry", FileSettings(path=good, actions_path=tmp_path / "a" / "b.jsonl")).check()
    assert report.ok, report
    missing = FileConnector("dry", FileSettings(path=tmp_path / "none.csv")).check()
    assert not missing.ok and "no such file" in missing.items[0].detail
    with pytest.raises(FileFormatError, match="actions_path"):
        FileConnector("dry", FileSettings(path=good)).apply(Action(kind="route", target="1", params={"queue": "Q"}))


def test_a_helpdesks_customer_history_feeds_the_behaviour_features(tmp_path: Path) -> None:
    """The history a connector fetches is the record the behaviour features read: no conversion between them."""
    from datetime import UTC, datetime

    from router.behaviour import behaviour_features

    path = tmp_path / "tickets.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"id": n, "subject": "s", "body": "b", "requester": "ann@example.com", "updated_at": when})
            for n, when in [(1, "2026-01-01T00:00:00Z"), (2, "2026-02-20T00:00:00Z"), (3, "2026-04-01T00:00:00Z")]
        )
        + "\n"
    )
    history = FileConnector("dry", FileSettings(path=path)).customer_history("ann@example.com")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert [t.external_id for t in history.until(at).tickets] == ["1", "2"]
    features = behaviour_features(history, at)
    assert (features["tickets_30d"], features["tickets_total"]) == (1.0, 2.0)
