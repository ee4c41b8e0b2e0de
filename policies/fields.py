"""The fields a policy condition can test: what each means, its kind, and how to read it for one ticket."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from connectors import Customer, Ticket, as_utc
from policies.ticket_signals import Signals

FieldKind = Literal["text", "keyword", "keywords", "number", "probability", "priority", "bool", "weekday", "any"]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Absent:
    """The value of a field that is not there (no customer record, no model output, ...)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "absent"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


def show_value(value: Any, limit: int = 80) -> str:
    """A value as the trace shows it: text quoted as written (no escaping), yes/no as true/false."""
    if value is ABSENT:
        return "absent"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = f"'{value[:limit]}'"  # cut first: a body can be megabytes long
    elif isinstance(value, list):
        text = "[" + ", ".join(show_value(v, limit) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Facts:
    """Everything one decision's conditions can read: the records, the signals and the moment."""

    ticket: Ticket
    customer: Customer | None
    signals: Signals
    now: datetime
    local_now: datetime
    business_hours: Callable[[datetime], bool] | None
    # While deskroute abstains the intent is not trusted: the caller passes None for both, and
    # absent_notes says why, so conditions on them are false and the trace explains it.
    intent: str | None
    intent_probability: float | None
    absent_notes: Mapping[str, str] = field(default_factory=dict)

    def value(self, spec: FieldSpec) -> Any:
        """The field's value for this decision, or ABSENT."""
        return spec.read(self)


@dataclass(frozen=True)
class FieldSpec:
    """One field conditions can name, e.g. ``ticket.subject`` or ``customer.attributes.plan``."""

    name: str
    kind: FieldKind
    read: Callable[[Facts], Any]
    help: str
    absent_means: str = ""


def _present(value: Any) -> Any:
    """A value read from a record, with None and '' (not set) as ABSENT."""
    return ABSENT if value is None or value == "" else value


def _ticket_optional(attribute: str) -> Callable[[Facts], Any]:
    return lambda f: _present(getattr(f.ticket, attribute))


def _signal_optional(attribute: str) -> Callable[[Facts], Any]:
    return lambda f: _present(getattr(f.signals, attribute))


def _customer_optional(attribute: str) -> Callable[[Facts], Any]:
    return lambda f: ABSENT if f.customer is None else _present(getattr(f.customer, attribute))


def _customer_attribute(key: str) -> Callable[[Facts], Any]:
    return lambda f: ABSENT if f.customer is None else _present(f.customer.attributes.get(key))


def _custom_field(key: str) -> Callable[[Facts], Any]:
    return lambda f: _present(f.ticket.custom_fields.get(key))


def _feature(key: str) -> Callable[[Facts], Any]:
    return lambda f: _present(f.signals.features.get(key))


def _age_hours(f: Facts) -> float:
    return (f.now - as_utc(f.ticket.created_at)).total_seconds() / 3600.0


def _churn_reasons(f: Facts) -> Any:
    s = f.signals
    if s.churn_risk is None and not s.churn_reasons:
        return ABSENT
    return s.churn_reasons


def _business_hours(f: Facts) -> Any:
    if f.business_hours is None:
        return ABSENT
    return f.business_hours(f.local_now)


_NO_CUSTOMER = "no customer record for this ticket"

FIELDS: dict[str, FieldSpec] = {
    s.name: s
    for s in [
        FieldSpec("ticket.subject", "text", lambda f: f.ticket.subject, "the ticket's subject"),
        FieldSpec("ticket.body", "text", lambda f: f.ticket.body, "the ticket's first message"),
        FieldSpec("ticket.text", "text", lambda f: f.ticket.text, "subject and body together"),
        FieldSpec(
            "ticket.channel",
            "keyword",
            _ticket_optional("channel"),
            "e-mail, web, phone, chat, ...",
            "the helpdesk did not say",
        ),
        FieldSpec(
            "ticket.language",
            "keyword",
            _ticket_optional("language"),
            "language code set in the helpdesk (e.g. 'de')",
            "the helpdesk did not say",
        ),
        FieldSpec("ticket.tags", "keywords", lambda f: f.ticket.tags, "the ticket's tags"),
        FieldSpec(
            "ticket.priority",
            "priority",
            _ticket_optional("priority"),
            "current priority: low < normal < high < urgent",
            "the ticket has no priority",
        ),
        FieldSpec("ticket.status", "keyword", lambda f: f.ticket.status, "new, open, pending, ..."),
        FieldSpec(
            "ticket.queue",
            "keyword",
            _ticket_optional("queue"),
            "the helpdesk's current queue",
            "the ticket is in no queue",
        ),
        FieldSpec(
            "ticket.organization",
            "keyword",
            _ticket_optional("organization"),
            "requester's org",
            "the ticket names no organization",
        ),
        FieldSpec(
            "ticket.requester",
            "keyword",
            _ticket_optional("requester"),
            "requester id or e-mail",
            "the ticket names no requester",
        ),
        FieldSpec("ticket.age_hours", "number", _age_hours, "hours since the ticket was created, at 'now'"),
        FieldSpec(
            "customer.plan",
            "keyword",
            _customer_attribute("plan"),
            "the customer's plan (attribute 'plan')",
            "no customer record or no 'plan' attribute",
        ),
        FieldSpec(
            "customer.organization",
            "keyword",
            _customer_optional("organization"),
            "the customer's organization",
            _NO_CUSTOMER,
        ),
        FieldSpec(
            "customer.email",
            "keyword",
            _customer_optional("email"),
            "the customer's e-mail",
            _NO_CUSTOMER,
        ),
        FieldSpec(
            "customer.opted_out",
            "bool",
            _customer_optional("opted_out"),
            "the customer asked not to be contacted",
            _NO_CUSTOMER,
        ),
        FieldSpec(
            "signals.intent",
            "keyword",
            lambda f: _present(f.intent),
            "the predicted team (the intent model's label, mapped through 'intents')",
            "no intent model output",
        ),
        FieldSpec(
            "signals.intent_probability",
            "probability",
            lambda f: _present(f.intent_probability),
            "the intent model's calibrated confidence, 0..1",
            "no intent model output",
        ),
        FieldSpec(
            "signals.urgency",
            "priority",
            _signal_optional("urgency"),
            "predicted priority: low < normal < high < urgent",
            "no urgency model output",
        ),
        FieldSpec(
            "signals.urgency_probability",
            "probability",
            _signal_optional("urgency_probability"),
            "the urgency model's confidence, 0..1",
            "no urgency model output",
        ),
        FieldSpec(
            "signals.churn_risk",
            "probability",
            _signal_optional("churn_risk"),
            "probability the customer churns, 0..1",
            "no churn model output",
        ),
        FieldSpec(
            "signals.churn_reasons",
            "keywords",
            _churn_reasons,
            "the churn model's top reasons",
            "no churn model output",
        ),
        FieldSpec(
            "signals.language",
            "keyword",
            _signal_optional("language"),
            "language detected in the text (e.g. 'de')",
            "no language detected",
        ),
        FieldSpec(
            "signals.abstain",
            "bool",
            lambda f: f.signals.abstain,
            "the intent model abstained by its own threshold",
        ),
        FieldSpec(
            "signals.novel",
            "bool",
            lambda f: f.signals.novel,
            "the intent model abstained because the ticket is unlike any it learnt from (a new topic)",
        ),
        FieldSpec(
            "time.weekday",
            "weekday",
            lambda f: WEEKDAYS[f.local_now.weekday()],
            "day of the week at 'now' in the policy's time zone: mon..sun",
        ),
        FieldSpec(
            "time.hour",
            "number",
            lambda f: f.local_now.hour,
            "hour of the day (0-23) at 'now' in the policy's time zone",
        ),
        FieldSpec(
            "time.business_hours",
            "bool",
            _business_hours,
            "'now' falls within the policy's business_hours",
            "the policy has no business_hours",
        ),
    ]
}

# Families of fields named by a key of the caller's choosing: prefix -> (reader of the key, help).
FIELD_FAMILIES: dict[str, tuple[Callable[[str], Callable[[Facts], Any]], str]] = {
    "ticket.custom_fields.": (
        _custom_field,
        "a helpdesk custom field of the ticket",
    ),
    "customer.attributes.": (
        _customer_attribute,
        "a CRM attribute of the customer (plan, mrr, seats, ...)",
    ),
    "customer.features.": (
        _feature,
        "a behaviour feature computed for the customer (logins_30d, days_since_last_login, ...)",
    ),
}


def field_spec(name: str) -> FieldSpec | None:
    """The spec for a field name, including the open families (``customer.attributes.<key>``, ...)."""
    spec = FIELDS.get(name)
    if spec is not None:
        return spec
    for prefix, (reader, help_text) in FIELD_FAMILIES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            key = name[len(prefix) :]
            return FieldSpec(name, "any", reader(key), help_text, f"'{key}' is not set")
    return None


def known_field_names() -> list[str]:
    """Every fixed field name and each family written with a placeholder, for messages and docs."""
    return [*FIELDS, *(p + "<name>" for p in FIELD_FAMILIES)]
