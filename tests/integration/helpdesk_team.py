"""The people and places of an end-to-end run in the live RT: deskroute's own user, an agent, team queues.

deskroute must not write as the account that creates the test tickets: it recognises its own changes by the
change's author and would skip every ticket. So the tests use three RT users: the administrator (root) stands
in for the mail gateway that opens tickets, ``deskroute-RUN`` is deskroute's own account, and
``agent-bob-RUN`` is a support agent who re-routes tickets by hand. Users are per run (REST 2 cannot reset a
password, and a per-run user never collides with an earlier run's); their rights are global and granted the
way an administrator would, through RT's rights page, because RT 5's REST 2 has no rights endpoint.

Every run also gets its own queues: the starter policy's RT queue names, prefixed per run and per scenario,
so that scenarios sharing one RT never see each other's tickets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.integration.conftest import RT_URL, RUN, RTAdmin

STARTER_POLICY = REPO_ROOT / "policies" / "examples" / "starter.yaml"
TAGS_FIELD = "deskroute tags"

# What deskroute's RT account needs to pull tickets with their comments, move them (CreateTicket in the queue a
# ticket goes to), set priority, tags (the custom field) and internal notes; and what an agent needs to re-route.
DESKROUTE_RIGHTS = (
    "SeeQueue", "ShowTicket", "ShowTicketComments", "ModifyTicket", "CommentOnTicket", "CreateTicket",
    "SeeCustomField", "ModifyCustomField",
)  # fmt: skip
AGENT_RIGHTS = ("SeeQueue", "ShowTicket", "ShowTicketComments", "ModifyTicket", "CreateTicket", "SeeCustomField")


@dataclass(frozen=True)
class RTUser:
    """An RT account with a password, and a REST 2 client acting as it."""

    name: str
    password: str

    @contextmanager
    def client(self) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=RT_URL, auth=(self.name, self.password), timeout=60) as http:
            # A web session makes each REST call milliseconds instead of a bcrypt check.
            http.post("/NoAuth/Login.html", data={"user": self.name, "pass": self.password, "next": ""})
            yield http


def create_user(rt: RTAdmin, name: str, rights: tuple[str, ...]) -> RTUser:
    """A privileged RT user with a password and these global rights."""
    password = f"pw-{RUN}-{name}"
    account = {"Name": name, "Password": password, "Privileged": 1, "EmailAddress": f"{name}@example.com"}
    rt.rest("POST", "user", json=account)
    principal = next(link["id"] for link in rt.rest("GET", f"user/{name}")["_hyperlinks"] if link.get("ref") == "self")
    acl = f"{principal}-RT::System-1"
    page = rt.http.post("/Admin/Global/UserRights.html", data={f"SetRights-{acl}": list(rights), "CheckACL": acl})
    granted = re.findall(r"Granted right &#39;(\w+)&#39;", page.text)
    assert page.status_code == 200 and sorted(granted) == sorted(rights), f"granting {rights} to {name}: {granted}"
    return RTUser(name, password)


def disable_user(rt: RTAdmin, user: RTUser) -> None:
    rt.http.put(f"/REST/2.0/user/{user.name}", json={"Disabled": 1})


@dataclass(frozen=True)
class Helpdesk:
    """One scenario's queues in RT: an inbox where tickets arrive and one queue per team of the policy."""

    prefix: str
    inbox: str
    teams: dict[str, str]  # the policy's team name -> this scenario's RT queue

    @property
    def ticket_filter(self) -> str:
        # TicketSQL: every queue of this scenario and no other (the prefix ends in '-', so no scenario's
        # prefix starts another's).
        return f"Queue LIKE '{self.prefix}%'"

    def queue(self, team: str) -> str:
        return self.teams[team]


# The teams the scenarios' tickets can reach without a trained model (rules and the default queue), and the
# one an agent moves a ticket to. Only their queues are created: a ticket routed anywhere else makes RT refuse
# the move, and the test fails naming the dead-lettered action.
USED_TEAMS = (
    "Service Outages and Maintenance", "Billing and Payments", "General Inquiry", "Returns and Exchanges", "Triage",
)  # fmt: skip


def build_helpdesk(rt: RTAdmin, scenario: str) -> Helpdesk:
    """The starter policy's RT queues, prefixed for this run and scenario; the inbox and used ones created."""
    prefix = f"{RUN}-{scenario}-"
    policy = yaml.safe_load(STARTER_POLICY.read_text(encoding="utf-8"))
    teams = {team: f"{prefix}{where['rt']}" for team, where in policy["queues"].items()}
    inbox = f"{prefix}Inbox"
    for name in (inbox, *(teams[team] for team in USED_TEAMS)):
        rt.rest("POST", "queue", json={"Name": name})
    return Helpdesk(prefix=prefix, inbox=inbox, teams=teams)


def write_policy(folder: Path, helpdesk: Helpdesk) -> Path:
    """A copy of the starter policy whose ``rt:`` queue names are this scenario's queues."""
    policy = yaml.safe_load(STARTER_POLICY.read_text(encoding="utf-8"))
    for team, where in policy["queues"].items():
        where["rt"] = helpdesk.teams[team]
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


AGENT_USER_ENV = "DESKROUTE_TEST_RT_AGENT_USER"
AGENT_PASSWORD_ENV = "DESKROUTE_TEST_RT_AGENT_PASSWORD"


def write_deskroute_config(
    folder: Path, helpdesk: Helpdesk, policy: Path, database_url: str, *, mode: str = "auto"
) -> Path:
    """deskroute.toml: the store, the policy and an ``rt`` connector limited to the scenario's queues."""
    path = folder / "deskroute.toml"
    path.write_text(
        f'database_url = "{database_url}"\n'
        f'data_dir = "{folder / "data"}"\n'
        f'policy = "{policy}"\n'
        "\n[connectors.rt]\n"
        'type = "rt"\n'
        f'mode = "{mode}"\n'
        f'base_url = "{RT_URL}"\n'
        f'username_env = "{AGENT_USER_ENV}"\n'
        f'password_env = "{AGENT_PASSWORD_ENV}"\n'
        f'ticket_filter = "{helpdesk.ticket_filter}"\n'
        f'outreach_queue = "{helpdesk.inbox}"\n',
        encoding="utf-8",
    )
    return path


def deskroute_env(deskroute: RTUser, database_url: str, folder: Path) -> dict[str, str | None]:
    """The environment a deskroute process of the scenario runs with (``None`` unsets a variable)."""
    return {
        AGENT_USER_ENV: deskroute.name,
        AGENT_PASSWORD_ENV: deskroute.password,
        # The configuration file names everything; these keep a developer's own settings out of the test.
        "DESKROUTE_DATABASE_URL": database_url,
        "DESKROUTE_DATA_DIR": str(folder / "data"),
        "DESKROUTE_POLICY": None,
        "DESKROUTE_CONFIG": None,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def use_deskroute_env(monkeypatch: pytest.MonkeyPatch, deskroute: RTUser, database_url: str, folder: Path) -> None:
    """Run this test's in-process deskroute with the scenario's environment (see :func:`deskroute_env`)."""
    for name, value in deskroute_env(deskroute, database_url, folder).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def tags_of(ticket: dict[str, Any]) -> set[str]:
    fields = ticket.get("CustomFields") or []
    return {v for cf in fields if cf.get("name") == TAGS_FIELD for v in cf.get("values") or []}


def queue_name(rt: RTAdmin, ticket: dict[str, Any]) -> str:
    """The name of the ticket's queue (REST 2 gives its id)."""
    return str(rt.rest("GET", f"queue/{ticket['Queue']['id']}")["Name"])


def transactions(rt: RTAdmin, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's history, oldest first: type, field, author and the values changed."""
    data = rt.rest(
        "GET",
        f"ticket/{ticket_id}/history",
        params={"fields": "Type,Field,Creator,OldValue,NewValue", "per_page": 100},
    )
    return [
        {**item, "Creator": item["Creator"]["id"] if isinstance(item.get("Creator"), dict) else item.get("Creator")}
        for item in data["items"]
    ]
