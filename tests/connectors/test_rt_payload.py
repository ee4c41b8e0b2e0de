"""RT answers in shapes its REST 2 API does not have: a clear error naming the endpoint and field, never a
traceback, and never a request path built from a hostile id."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from typer.testing import CliRunner

from connectors.errors import MalformedResponse
from connectors.rt import RTConnector, RTSettings
from connectors.rt.vocabulary import priority_names_from_form
from router.cli import app
from tests.connectors.fake_rt import ROOT, T0, FakeRT

Mutation = Callable[[Any], Any]


def corrupting(rt: FakeRT, path: str, mutate: Mutation) -> Callable[[httpx.Request], httpx.Response]:
    """The fake RT, with the JSON answers of ``path`` (a path suffix) passed through ``mutate``."""

    def answer(request: httpx.Request) -> httpx.Response:
        response = rt(request)
        if not request.url.path.endswith(path):
            return response
        # json.dumps writes nan as NaN, which Python's (and httpx's) JSON reader accepts: a hostile server may too.
        body = json.dumps(mutate(json.loads(response.content))).encode()
        return httpx.Response(response.status_code, content=body, headers={"Content-Type": "application/json"})

    return answer


def connector() -> RTConnector:
    settings = RTSettings(base_url=ROOT, username="deskroute", password=SecretStr("pw"), timezone="UTC")
    return RTConnector("rt", settings, sleep=lambda s: None)


def setting(key: str, value: Any) -> Mutation:
    def mutate(data: Any) -> Any:
        return {**data, key: value}

    return mutate


def first_item(key: str, value: Any) -> Mutation:
    def mutate(data: Any) -> Any:
        data["items"][0][key] = value
        return data

    return mutate


@respx.mock
@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        (setting("page", "x"), "'page' is 'x'", "a whole number"),
        (setting("pages", -1), "'pages' is -1", "a whole number"),
        (setting("per_page", []), "'per_page' is []", "a whole number"),
        (setting("total", "abc"), "'total' is 'abc'", "a whole number"),
        (setting("total", True), "'total' is True", "a whole number"),
        (setting("pages", float("nan")), "'pages' is nan", "a whole number"),
        (setting("items", {}), "'items' is {}", "a list"),
        (setting("items", [1]), "'items[0]' is 1", "an object"),
        (lambda data: [data], "'(the answer)' is [", "an object with 'items'"),
        (first_item("id", "abc"), "'items[0].id' is 'abc'", "a record number"),
        (first_item("id", "1/../../users"), "'items[0].id' is '1/../../users'", "a record number"),
        (first_item("id", None), "'items[0].id' is None", "a record number"),
        (lambda data: {**data, "items": [{"Subject": "no id"}]}, "'items[0].id' is None", "a ticket number"),
        (first_item("id", -3), "'items[0].id' is -3", "a record number"),
        (first_item("Requestor", 5), "'items[0].Requestor' is 5", "a list"),
        (first_item("CustomFields", "tags"), "'items[0].CustomFields' is 'tags'", "a list"),
        (first_item("CustomFields", [{"name": "x", "values": 5}]), "'items[0].CustomFields[0].values' is 5", "a list"),
        (first_item("CustomFields", ["x"]), "'items[0].CustomFields[0]' is 'x'", "an object"),
        (first_item("Status", 7), "'items[0].Status' is 7", "text"),
        (first_item("Subject", {"a": 1}), "'items[0].Subject' is {'a': 1}", "text"),
        (first_item("Queue", [1]), "'items[0].Queue' is [1]", "an object or a name"),
    ],
)
def test_a_ticket_search_in_the_wrong_shape_is_a_clear_error(mutate: Mutation, field: str, expected: str) -> None:
    rt = FakeRT()
    rt.add(1, T0)
    respx.route(host="rt.example.com").mock(side_effect=corrupting(rt, "/REST/2.0/tickets", mutate))
    with pytest.raises(MalformedResponse) as caught:
        list(connector().pull(None))
    message = str(caught.value)
    assert f"GET /tickets: field {field}" in message and f"expected {expected}" in message, message


@respx.mock
@pytest.mark.parametrize(
    ("path", "mutate", "problem"),
    [
        ("/history", first_item("id", None), "GET /ticket/1/history: field 'items[0].id' is None"),
        ("/history", first_item("Type", 3), "GET /ticket/1/history: field 'items[0].Type' is 3"),
        ("/history", setting("page", "x"), "GET /ticket/1/history: field 'page' is 'x'"),
        ("/attachments", first_item("TransactionId", {"a": 1}), "field 'items[0].TransactionId' is {'a': 1}"),
        ("/attachments", setting("items", "none"), "GET /ticket/1/attachments: field 'items' is 'none'"),
    ],
)
def test_a_tickets_messages_in_the_wrong_shape_are_its_problem(path: str, mutate: Mutation, problem: str) -> None:
    rt = FakeRT()
    rt.add(1, T0)
    rt.add(2, T0)
    respx.route(host="rt.example.com").mock(side_effect=corrupting(rt, f"/ticket/1{path}", mutate))
    batches = list(connector().pull(None))
    assert [t.external_id for b in batches for t in b.tickets] == ["2"]
    refused = [str(r) for b in batches for r in b.refused]
    assert len(refused) == 1 and problem in refused[0] and refused[0].startswith("RT ticket 1:"), refused


@respx.mock
def test_a_listing_that_claims_more_pages_but_has_no_items_ends() -> None:
    endless = {"page": 1, "pages": 10**9, "per_page": 100, "items": []}
    route = respx.get(f"{ROOT}/REST/2.0/queues/all").mock(return_value=httpx.Response(200, json=endless))
    respx.route(host="rt.example.com").mock(side_effect=FakeRT())
    assert connector().api.queues() == []
    assert route.call_count == 1


@respx.mock
def test_a_listing_that_always_answers_page_one_is_not_followed_for_ever() -> None:
    queue = {"id": "1", "Name": "General", "Disabled": "0"}
    stuck = {"page": 1, "pages": 3, "per_page": 1, "items": [queue]}
    route = respx.get(f"{ROOT}/REST/2.0/queues/all").mock(return_value=httpx.Response(200, json=stuck))
    respx.route(host="rt.example.com").mock(side_effect=FakeRT())
    assert len(connector().api.queues()) == 3
    asked = [call.request.url.params["page"] for call in route.calls]
    assert asked == ["1", "2", "3"]


@respx.mock
def test_a_search_that_ignores_the_page_asked_for_is_not_followed_for_ever() -> None:
    rt = FakeRT()
    for n in (1, 2):
        rt.add(n, T0)
    same_page = rt._search({"query": ["id > 0"], "per_page": ["2"]})
    route = respx.get(f"{ROOT}/REST/2.0/tickets").mock(return_value=httpx.Response(200, json=same_page))
    respx.route(host="rt.example.com").mock(side_effect=rt)
    conn = RTConnector(
        "rt",
        RTSettings(base_url=ROOT, username="u", password=SecretStr("pw"), timezone="UTC", page_size=2),
        sleep=lambda s: None,
    )
    with pytest.raises(MalformedResponse, match="page 2 holds the same tickets as page 1"):
        list(conn.pull({"since": "2026-06-01T12:00:00Z", "seen": ["1", "2"]}))
    assert route.call_count == 2


@respx.mock
def test_rts_own_number_formats_are_accepted() -> None:
    # RT writes "pages": 0.0 for an empty search and ids as strings; counts as digit strings are read too.
    rt = FakeRT()
    rt.add(1, T0)
    respx.route(host="rt.example.com").mock(
        side_effect=corrupting(
            rt, "/REST/2.0/tickets", lambda data: {**data, "pages": float(data["pages"]), "total": str(data["total"])}
        )
    )
    batches = list(connector().pull(None))
    assert [t.external_id for b in batches for t in b.tickets] == ["1"] and batches[0].remaining == 0


@respx.mock
def test_a_created_ticket_needs_a_number() -> None:
    rt = FakeRT()
    respx.post(f"{ROOT}/REST/2.0/ticket").mock(return_value=httpx.Response(201, json={"id": "../users/root"}))
    respx.route(host="rt.example.com").mock(side_effect=rt)
    with pytest.raises(MalformedResponse, match=r"POST /ticket: field 'id' is '../users/root', expected a record"):
        connector().api.create_ticket({"Queue": "General"})


@respx.mock
def test_rts_answers_to_writes_are_kept_short() -> None:
    respx.put(f"{ROOT}/REST/2.0/ticket/1").mock(return_value=httpx.Response(200, json=["x" * 10_000] * 100))
    respx.route(host="rt.example.com").mock(side_effect=FakeRT())
    messages = connector().api.update("1", {"Queue": "General"})
    assert len(messages) == 10 and all(len(m) == 200 and m.endswith("…") for m in messages)


def test_sync_reports_the_endpoint_and_field_in_one_line(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = FakeRT()
    rt.add(1, T0)
    (cli_env / "deskroute.toml").write_text(
        f'[connectors.rt]\ntype = "rt"\nbase_url = "{ROOT}"\ntimezone = "UTC"\n'
        'username_env = "DESK_TEST_USER"\npassword_env = "DESK_TEST_PASSWORD"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("DESK_TEST_USER", "deskroute")
    monkeypatch.setenv("DESK_TEST_PASSWORD", "pw")
    with respx.mock:
        respx.route(host="rt.example.com").mock(side_effect=corrupting(rt, "/REST/2.0/tickets", setting("page", "x")))
        result = CliRunner().invoke(app, ["sync", "rt"])
    text = result.output.replace("\n", " ")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "GET /tickets: field 'page' is 'x', expected a whole number" in text, text


def test_a_priority_form_with_hostile_options_gives_only_plausible_names() -> None:
    options = (
        '<option value="²">Squared</option>'  # a digit to str.isdigit, not to int()
        f'<option value="{"9" * 5000}">Huge</option>'  # past int()'s digit limit
        f'<option value="7">{"x" * 101}</option>'
        '<option value="0">Low</option>' + "".join(f'<option value="{n}">P{n}</option>' for n in range(1, 200))
    )
    names = priority_names_from_form(f'<select name="InitialPriority">{options}</select>')
    assert names[0] == ("Low", 0) and len(names) == 100 and names[-1] == ("P99", 99)
