"""Loading and validating a policy file: every problem is reported with its line, column and a fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from connectors import ACTION_KINDS, PRIORITIES, normalise_priority
from policies.conditions import (
    KIND_OPERATORS,
    OPERATORS,
    All,
    Always,
    AnyOf,
    Condition,
    ConditionError,
    Leaf,
    Not,
    build_leaf,
)
from policies.fields import WEEKDAYS, field_spec, known_field_names
from policies.policy_errors import PolicyError, PolicyIssue, did_you_mean
from policies.routing_policy import (
    LANGUAGE_VERSION,
    AddNote,
    AddTags,
    AssignTo,
    BusinessHours,
    CreateOutreach,
    Defaults,
    OutreachGuardrails,
    RouteTo,
    RoutingPolicy,
    Rule,
    RuleAction,
    SetPriority,
)
from policies.templates import DEFAULT_NOTE_LENGTH, MAX_NOTE_LENGTH, NoteTemplate, TemplateProblem
from policies.yaml_reader import MAX_DOCUMENT_BYTES, LocatedDocument, read_yaml
from policies.yaml_reader import Path as DocPath

TOP_KEYS = (
    "version",
    "name",
    "description",
    "timezone",
    "queues",
    "intents",
    "defaults",
    "business_hours",
    "outreach",
    "rules",
    "tests",
)
DEFAULTS_KEYS = ("triage_queue", "queue", "priority", "min_confidence", "route_by_intent", "abstain_note")
BUSINESS_HOURS_KEYS = ("timezone", "days", "start", "end", "holidays")
OUTREACH_KEYS = ("cooldown_hours", "daily_cap", "quiet_hours", "timezone")
RULE_KEYS = ("name", "description", "when", "then", "stop", "override", "min_confidence")
COMBINATORS = ("all", "any", "not")
MAX_RULES = 500
# Tests that read the whole of a text, per policy: with these a decision on a 1 MB body stays well under a
# second (a regular expression reads about 3 MB of encoded text in 4 ms, a 'contains' word 1 MB in up to 1 ms).
MAX_PATTERNS = 100
MAX_CONTAINS_WORDS = 300
# Ten years: a cool-down is a span of time that date arithmetic can add to any moment of a decision.
MAX_COOLDOWN_HOURS = 87_600
MAX_TAG_CHARS = 100

_MISSING = object()


def kind_of(value: Any) -> str:
    """What a value from a document is, in a policy author's words."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class DocumentReader:
    """Walks a located document, collecting issues instead of stopping at the first.

    ``teams`` are the declared queue names that :meth:`team` accepts.
    """

    def __init__(self, doc: LocatedDocument, teams: list[str] | None = None):
        self.doc = doc
        self.teams: list[str] = teams if teams is not None else []
        self.issues: list[PolicyIssue] = []
        self.warnings: list[PolicyIssue] = []

    # -- reporting -----------------------------------------------------------------------------------

    def error(self, path: DocPath, message: str, *, at_key: bool = False, line_offset: int = 0) -> None:
        mark = self.doc.key_mark(path) if at_key else self.doc.value_mark(path)
        self.issues.append(PolicyIssue(self.doc.source, mark.line + line_offset, mark.column, message))

    def warn(self, path: DocPath, message: str) -> None:
        mark = self.doc.key_mark(path)
        self.warnings.append(PolicyIssue(self.doc.source, mark.line, mark.column, "warning: " + message))

    # -- shapes --------------------------------------------------------------------------------------

    def mapping(
        self,
        path: DocPath,
        value: Any,
        what: str,
        allowed: tuple[str, ...] | None = None,
        required: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"{what} must be a mapping of 'key: value' lines, not {kind_of(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.error(
                        (*path, key),
                        f"unknown field '{key}' in {what}{did_you_mean(key, allowed)}",
                        at_key=True,
                    )
        for key in required:
            if key not in value:
                self.error(path, f"{what} needs '{key}'", at_key=bool(path))
        return value

    def text(self, path: DocPath, value: Any, what: str, *, allow_empty: bool = False) -> str | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(path, f"{what} must be text, not {kind_of(value)}")
            return None
        if not allow_empty and not value.strip():
            self.error(path, f"{what} must not be empty")
            return None
        return value

    def boolean(self, path: DocPath, value: Any, what: str) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, f"{what} must be true or false, not {value!r}")
            return None
        return value

    def number(
        self, path: DocPath, value: Any, what: str, lo: float | None = None, hi: float | None = None
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"{what} must be a number, not {kind_of(value)}")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if (lo, hi) == (0.0, 1.0):
                self.error(path, f"{what} {value} is outside 0..1; probabilities are written 0.8, not 80")
            else:
                bounds = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
                self.error(path, f"{what} {value} must be {bounds}")
            return None
        return float(value)

    def clock(self, path: DocPath, value: Any, what: str) -> time | None:
        if isinstance(value, str):
            try:
                parsed = time.fromisoformat(value.strip())
                if parsed.tzinfo is None:
                    return parsed
            except ValueError:
                pass
        self.error(path, f"{what} must be a time of day like '08:30', not {value!r}")
        return None

    def timezone(self, path: DocPath, value: Any) -> ZoneInfo | None:
        name = self.text(path, value, "timezone")
        if name is None:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(name, _timezones()) or "; use an IANA name such as Europe/Berlin"
            self.error(path, f"unknown time zone '{name}'{hint}")
            return None

    def team(self, path: DocPath, value: Any, what: str) -> str | None:
        name = self.text(path, value, what)
        if name is None:
            return None
        if name not in self.teams:
            self.error(path, f"queue '{name}' is not declared in queues{did_you_mean(name, self.teams)}")
            return None
        return name

    def priority(self, path: DocPath, value: Any, what: str) -> Any:
        if value in PRIORITIES:
            return value
        near = normalise_priority(value)
        hint = f"; did you mean '{near}'?" if near else f"; use one of {', '.join(PRIORITIES)}"
        self.error(path, f"{what} {value!r} is not a priority{hint}")
        return None


def _timezones() -> set[str]:
    try:
        return available_timezones()
    except OSError:  # pragma: no cover - no tz database on disk
        return set()


class _PolicyReader(DocumentReader):
    def __init__(self, doc: LocatedDocument):
        super().__init__(doc)
        self.intent_labels: dict[str, str] = {}
        self.patterns = 0
        self.contains_words = 0
        self.business_hours: BusinessHours | None = None

    # -- top level -----------------------------------------------------------------------------------

    def policy(self) -> RoutingPolicy | None:
        data = self.mapping((), self.doc.data, "a policy", TOP_KEYS, ("version", "queues", "defaults", "rules"))
        if data is None:
            return None
        version = data.get("version", _MISSING)
        if version is not _MISSING and version != LANGUAGE_VERSION:
            self.error(
                ("version",),
                f"unsupported policy language version {version!r}; this deskroute reads version {LANGUAGE_VERSION}",
            )
        source_name = Path(self.doc.source).name.split(".")[0] or "policy"
        name = self.text(("name",), data["name"], "name") if "name" in data else source_name
        description = ""
        if "description" in data:
            description = self.text(("description",), data["description"], "description", allow_empty=True) or ""
        tz = self.timezone(("timezone",), data["timezone"]) if "timezone" in data else ZoneInfo("UTC")
        tz = tz or ZoneInfo("UTC")
        queues = self.queues(data.get("queues"))
        intents = self.intents(data["intents"]) if "intents" in data else {}
        if "business_hours" in data:
            self.business_hours = self.hours(data["business_hours"], tz)
        defaults = self.defaults(data.get("defaults"))
        outreach = self.outreach(data["outreach"], tz) if "outreach" in data else OutreachGuardrails(timezone=tz)
        rules = self.rules(data.get("rules"))
        if self.issues or defaults is None or name is None:
            return None
        policy = RoutingPolicy(
            name=name,
            source=self.doc.source,
            timezone=tz,
            queues=queues,
            intents=intents,
            defaults=defaults,
            rules=tuple(rules),
            outreach=outreach or OutreachGuardrails(timezone=tz),
            business_hours=self.business_hours,
            description=description,
        )
        return policy

    def queues(self, value: Any) -> dict[str, dict[str, str]]:
        path: DocPath = ("queues",)
        data = self.mapping(path, value, "queues")
        result: dict[str, dict[str, str]] = {}
        if data is None:
            return result
        if not data:
            self.error(path, "queues must declare at least one team, e.g. 'Billing: {rt: Billing}'")
        connectors: dict[str, int] = {}
        for team, mapping in data.items():
            tpath = (*path, team)
            if not team.strip():
                self.error(tpath, "a team name must not be empty", at_key=True)
                continue
            self.teams.append(team)
            result[team] = {}
            if mapping is None:
                continue
            m = self.mapping(tpath, mapping, f"queue '{team}' (connector name: helpdesk queue)")
            if m is None:
                continue
            for connector, queue in m.items():
                q = self.text((*tpath, connector), queue, f"the {connector} queue of '{team}'")
                if q is not None:
                    result[team][connector] = q
                    connectors[connector] = connectors.get(connector, 0) + 1
        for team, mapping in result.items():
            missing = sorted(c for c in connectors if c not in mapping)
            if missing:
                self.warn(
                    (*path, team),
                    f"queue '{team}' has no mapping for connector(s) {', '.join(missing)}; "
                    "routing there will not reach those helpdesks",
                )
        return result

    def intents(self, value: Any) -> dict[str, str]:
        path: DocPath = ("intents",)
        data = self.mapping(path, value, "intents (model label: team)")
        result: dict[str, str] = {}
        for label, team in (data or {}).items():
            t = self.team((*path, label), team, f"the team for intent '{label}'")
            if t is not None:
                result[label] = t
        self.intent_labels = result
        return result

    def defaults(self, value: Any) -> Defaults | None:
        path: DocPath = ("defaults",)
        data = self.mapping(path, value, "defaults", DEFAULTS_KEYS, ("triage_queue",))
        if data is None:
            return None
        triage = (
            self.team((*path, "triage_queue"), data["triage_queue"], "triage_queue") if "triage_queue" in data else None
        )
        queue = self.team((*path, "queue"), data["queue"], "queue") if data.get("queue") is not None else None
        priority = (
            self.priority((*path, "priority"), data["priority"], "defaults.priority")
            if data.get("priority") is not None
            else None
        )
        min_conf = 0.0
        if "min_confidence" in data:
            min_conf = self.number((*path, "min_confidence"), data["min_confidence"], "min_confidence", 0.0, 1.0) or 0.0
        by_intent = True
        if "route_by_intent" in data:
            by_intent = bool(self.boolean((*path, "route_by_intent"), data["route_by_intent"], "route_by_intent"))
        note = None
        if data.get("abstain_note") is not None:
            note = self.template((*path, "abstain_note"), data["abstain_note"], DEFAULT_NOTE_LENGTH)
        if triage is None:
            return None
        return Defaults(
            triage_queue=triage,
            queue=queue,
            priority=priority,
            min_confidence=min_conf,
            route_by_intent=by_intent,
            abstain_note=note,
        )

    def hours(self, value: Any, default_tz: ZoneInfo) -> BusinessHours | None:
        path: DocPath = ("business_hours",)
        data = self.mapping(path, value, "business_hours", BUSINESS_HOURS_KEYS, ("start", "end"))
        if data is None:
            return None
        tz = self.timezone((*path, "timezone"), data["timezone"]) if "timezone" in data else default_tz
        start = self.clock((*path, "start"), data.get("start"), "start") if "start" in data else None
        end = self.clock((*path, "end"), data.get("end"), "end") if "end" in data else None
        days = set(range(5))
        if "days" in data:
            days = set()
            raw = data["days"]
            if not isinstance(raw, list) or not raw:
                self.error((*path, "days"), "days must be a list such as [mon, tue, wed, thu, fri]")
            else:
                for i, day in enumerate(raw):
                    word = str(day).strip().lower()[:3]
                    if word in WEEKDAYS:
                        days.add(WEEKDAYS.index(word))
                    else:
                        self.error((*path, "days", i), f"{day!r} is not a weekday; use {', '.join(WEEKDAYS)}")
        holidays: set[date] = set()
        for i, day in enumerate(data.get("holidays") or []):
            if isinstance(day, date) and not isinstance(day, datetime):
                holidays.add(day)
            else:
                try:
                    holidays.add(date.fromisoformat(str(day)))
                except ValueError:
                    self.error((*path, "holidays", i), f"holiday {day!r} must be a date like 2025-12-25")
        if tz is None or start is None or end is None:
            return None
        if start == end:
            self.error((*path, "end"), "business hours start and end at the same time")
            return None
        return BusinessHours(timezone=tz, days=frozenset(days), start=start, end=end, holidays=frozenset(holidays))

    def outreach(self, value: Any, default_tz: ZoneInfo) -> OutreachGuardrails | None:
        path: DocPath = ("outreach",)
        data = self.mapping(path, value, "outreach", OUTREACH_KEYS)
        if data is None:
            return None
        tz = self.timezone((*path, "timezone"), data["timezone"]) if "timezone" in data else default_tz
        cooldown = 168.0
        if "cooldown_hours" in data:
            cooldown = (
                self.number(
                    (*path, "cooldown_hours"), data["cooldown_hours"], "cooldown_hours", 0.0, MAX_COOLDOWN_HOURS
                )
                or 0.0
            )
        cap = 1
        if "daily_cap" in data:
            raw = data["daily_cap"]
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                self.error((*path, "daily_cap"), f"daily_cap must be a whole number, 0 or more, not {raw!r}")
            else:
                cap = raw
        quiet_start = quiet_end = None
        if "quiet_hours" in data:
            qpath = (*path, "quiet_hours")
            quiet = self.mapping(qpath, data["quiet_hours"], "quiet_hours", ("start", "end"), ("start", "end"))
            if quiet is not None:
                quiet_start = self.clock((*qpath, "start"), quiet.get("start"), "start") if "start" in quiet else None
                quiet_end = self.clock((*qpath, "end"), quiet.get("end"), "end") if "end" in quiet else None
        return OutreachGuardrails(
            cooldown_hours=cooldown,
            daily_cap=cap,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            timezone=tz or default_tz,
        )

    # -- rules ---------------------------------------------------------------------------------------

    def rules(self, value: Any) -> list[Rule]:
        path: DocPath = ("rules",)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, f"rules must be a list of rules (lines starting with '- name:'), not {kind_of(value)}")
            return []
        if len(value) > MAX_RULES:
            self.error(path, f"{len(value)} rules; a policy may have at most {MAX_RULES}")
            return []
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        unconditional_stop = ""
        for i, raw in enumerate(value):
            rpath = (*path, i)
            data = self.mapping(rpath, raw, f"rule #{i + 1}", RULE_KEYS, ("name", "then"))
            if data is None:
                continue
            name = self.text((*rpath, "name"), data["name"], "rule name") if "name" in data else None
            if name is not None:
                if name in seen:
                    self.error(
                        (*rpath, "name"),
                        f"duplicate rule name '{name}' (first used at line {seen[name]}); "
                        "rule names must be unique so the trace can name them",
                    )
                else:
                    seen[name] = self.doc.value_mark((*rpath, "name")).line
            label = f"rule '{name}'" if name else f"rule #{i + 1}"
            when: Condition | None = Always()
            if "when" in data:
                when = self.condition((*rpath, "when"), data["when"])
            min_conf = None
            if data.get("min_confidence") is not None:
                min_conf = self.number((*rpath, "min_confidence"), data["min_confidence"], "min_confidence", 0.0, 1.0)
            actions = self.actions((*rpath, "then"), data["then"], label) if "then" in data else None
            stop = bool(self.boolean((*rpath, "stop"), data["stop"], "stop")) if "stop" in data else False
            override = (
                bool(self.boolean((*rpath, "override"), data["override"], "override")) if "override" in data else False
            )
            description = ""
            if "description" in data:
                description = (
                    self.text((*rpath, "description"), data["description"], "description", allow_empty=True) or ""
                )
            if name is None or when is None or actions is None:
                continue
            if unconditional_stop:
                self.warn(
                    (*rpath, "name"),
                    f"{label} can never run: rule '{unconditional_stop}' has no conditions and stop: true",
                )
            if stop and isinstance(when, Always) and min_conf is None and not unconditional_stop:
                unconditional_stop = name
            rules.append(
                Rule(
                    name=name,
                    when=when,
                    then=tuple(actions),
                    description=description,
                    stop=stop,
                    override=override,
                    min_confidence=min_conf,
                    line=self.doc.key_mark(rpath).line,
                )
            )
        return rules

    def condition(self, path: DocPath, value: Any) -> Condition | None:
        if isinstance(value, list):
            if not value:
                self.error(path, "an empty list of conditions; remove 'when' for a rule that always applies")
                return None
            children = [self.condition((*path, i), v) for i, v in enumerate(value)]
            return All([c for c in children if c is not None]) if all(children) else None
        if not isinstance(value, dict) or not value:
            self.error(
                path,
                "a condition is a mapping such as 'ticket.language: de' or "
                "'signals.churn_risk: {gte: 0.7}', or all/any/not of conditions",
            )
            return None
        parts: list[Condition | None] = []
        for key, operand in value.items():
            kpath = (*path, key)
            if key in ("all", "any"):
                if not isinstance(operand, list) or not operand:
                    self.error(kpath, f"'{key}' takes a non-empty list of conditions")
                    parts.append(None)
                    continue
                children = [self.condition((*kpath, i), v) for i, v in enumerate(operand)]
                if all(children):
                    kids = [c for c in children if c is not None]
                    parts.append(All(kids) if key == "all" else AnyOf(kids))
                else:
                    parts.append(None)
            elif key == "not":
                child = self.condition(kpath, operand)
                parts.append(Not(child) if child is not None else None)
            else:
                parts.append(self.field_test(kpath, key, operand))
        if not all(parts):
            return None
        conditions = [p for p in parts if p is not None]
        return conditions[0] if len(conditions) == 1 else All(conditions)

    def field_test(self, path: DocPath, name: str, operand: Any) -> Condition | None:
        spec = field_spec(name)
        if spec is None:
            self.error(
                path,
                f"unknown field '{name}'{did_you_mean(name, [*known_field_names(), *COMBINATORS])}",
                at_key=True,
            )
            return None
        if spec.name == "time.business_hours" and self.business_hours is None:
            self.error(
                path,
                "time.business_hours needs a business_hours section (start, end, days, timezone)",
                at_key=True,
            )
            return None
        known = set(self.teams) | set(self.intent_labels) if spec.name == "signals.intent" else None
        if isinstance(operand, dict):
            if not operand:
                self.error(path, f"no test given for {name}; write e.g. '{name}: {{eq: value}}'")
                return None
            leaves: list[Condition | None] = []
            for op, arg in operand.items():
                leaves.append(self.leaf((*path, op), spec, op, arg, known))
            if not all(leaves):
                return None
            kept = [c for c in leaves if c is not None]
            return kept[0] if len(kept) == 1 else All(kept)
        op = "in" if isinstance(operand, list) else "eq"
        if spec.kind == "keywords" and op in ("eq", "in"):
            op = "contains"  # `ticket.tags: vip` reads as "has the tag vip"
        return self.leaf(path, spec, op, operand, known, shorthand=True)

    def leaf(
        self, path: DocPath, spec: Any, op: str, operand: Any, known: set[str] | None, shorthand: bool = False
    ) -> Condition | None:
        if op not in OPERATORS:
            self.error(path, f"unknown operator '{op}'{did_you_mean(op, OPERATORS)}", at_key=True)
            return None
        if op not in KIND_OPERATORS[spec.kind]:
            try:
                build_leaf(spec, op, operand, known)
            except ConditionError as exc:
                self.error(path, str(exc), at_key=not shorthand)
            return None
        try:
            leaf = build_leaf(spec, op, operand, known)
        except ConditionError as exc:
            self.error(path, f"{spec.name}: {exc}")
            return None
        self.count_text_scans(path, leaf)
        return leaf

    def count_text_scans(self, path: DocPath, leaf: Leaf) -> None:
        """Refuse a policy whose tests would read a long text too many times for one decision."""
        if leaf.op == "matches":
            self.patterns += 1
            if self.patterns == MAX_PATTERNS + 1:
                self.error(
                    path,
                    f"more than {MAX_PATTERNS} regular expressions in one policy; each reads the whole text "
                    "of every ticket: combine alternatives into one pattern, e.g. '\\b(refund|chargeback)\\b'",
                )
        elif leaf.op == "contains" and leaf.spec.kind in ("text", "keyword", "any"):
            before = self.contains_words
            self.contains_words += len(leaf.operand) if isinstance(leaf.operand, list) else 1
            if before <= MAX_CONTAINS_WORDS < self.contains_words:
                self.error(
                    path,
                    f"more than {MAX_CONTAINS_WORDS} words tested with 'contains' in one policy; each reads the "
                    "whole text of every ticket: test many words with one pattern, e.g. "
                    "matches: '(refund|chargeback|dispute)'",
                )

    # -- actions -------------------------------------------------------------------------------------

    def actions(self, path: DocPath, value: Any, label: str) -> list[RuleAction] | None:
        items: list[tuple[DocPath, str, Any]] = []
        if isinstance(value, dict):
            items = [((*path, kind), kind, arg) for kind, arg in value.items()]
        elif isinstance(value, list):
            for i, entry in enumerate(value):
                if not isinstance(entry, dict) or len(entry) != 1:
                    self.error(
                        (*path, i),
                        "each action is one 'kind: value' line, e.g. '- route: Billing'; "
                        f"kinds: {', '.join(ACTION_KINDS)}",
                    )
                    continue
                ((kind, arg),) = entry.items()
                items.append(((*path, i, kind), kind, arg))
        else:
            self.error(path, f"'then' of {label} must list actions, e.g. '- route: Billing', not {kind_of(value)}")
            return None
        if not items and isinstance(value, list | dict):
            self.error(path, f"{label} has no actions")
            return None
        start = len(self.issues)
        actions = [self.action(p, kind, arg) for p, kind, arg in items]
        if len(self.issues) > start:
            return None
        return [a for a in actions if a is not None]

    def action(self, path: DocPath, kind: str, arg: Any) -> RuleAction | None:
        if kind not in ACTION_KINDS:
            self.error(path, f"unknown action '{kind}'{did_you_mean(kind, ACTION_KINDS)}", at_key=True)
            return None
        if kind == "route":
            if isinstance(arg, dict):
                data = self.mapping(path, arg, "route", ("queue",), ("queue",))
                if data is None or "queue" not in data:
                    return None
                path, arg = (*path, "queue"), data["queue"]
            team = self.team(path, arg, "route")
            return RouteTo(team) if team else None
        if kind == "set_priority":
            priority = self.priority(path, arg, "set_priority")
            return SetPriority(priority) if priority else None
        if kind == "assign":
            if isinstance(arg, dict):
                data = self.mapping(path, arg, "assign", ("assignee",), ("assignee",))
                if data is None or "assignee" not in data:
                    return None
                path, arg = (*path, "assignee"), data["assignee"]
            who = self.text(path, arg, "assign")
            return AssignTo(who) if who else None
        if kind == "add_tags":
            if isinstance(arg, dict):
                data = self.mapping(path, arg, "add_tags", ("tags",), ("tags",))
                if data is None or "tags" not in data:
                    return None
                path, arg = (*path, "tags"), data["tags"]
            raw = arg if isinstance(arg, list) else [arg]
            tags: list[str] = []
            for i, tag in enumerate(raw):
                tpath = (*path, i) if isinstance(arg, list) else path
                text = self.text(tpath, tag, "a tag")
                if text is None:
                    continue
                if len(text) > MAX_TAG_CHARS or any(c.isspace() for c in text):
                    self.error(
                        tpath,
                        f"tag {text!r} must be one word (no spaces) of at most {MAX_TAG_CHARS} "
                        "characters; use '-' between words",
                    )
                    continue
                if text not in tags:
                    tags.append(text)
            return AddTags(tuple(tags)) if tags else None
        if kind == "add_note":
            max_length = DEFAULT_NOTE_LENGTH
            if isinstance(arg, dict):
                data = self.mapping(path, arg, "add_note", ("template", "max_length"), ("template",))
                if data is None or "template" not in data:
                    return None
                max_length = self.length(path, data, max_length)
                path, arg = (*path, "template"), data["template"]
            template = self.template(path, arg, max_length)
            return AddNote(template) if template else None
        # create_outreach
        data = self.mapping(
            path,
            arg,
            "create_outreach",
            ("channel", "subject", "template", "max_length"),
            ("subject", "template"),
        )
        if data is None:
            return None
        channel = self.text((*path, "channel"), data["channel"], "channel") if "channel" in data else "email"
        max_length = self.length(path, data, DEFAULT_NOTE_LENGTH)
        subject = self.template((*path, "subject"), data["subject"], 200) if "subject" in data else None
        body = self.template((*path, "template"), data["template"], max_length) if "template" in data else None
        if channel is None or subject is None or body is None:
            return None
        return CreateOutreach(channel=channel, subject=subject, body=body)

    def length(self, path: DocPath, data: dict[str, Any], default: int) -> int:
        if "max_length" not in data:
            return default
        value = self.number((*path, "max_length"), data["max_length"], "max_length", 1, MAX_NOTE_LENGTH)
        return int(value) if value is not None else default

    def template(self, path: DocPath, value: Any, max_length: int) -> NoteTemplate | None:
        text = self.text(path, value, "a template")
        if text is None:
            return None
        try:
            return NoteTemplate(text, max_length)
        except TemplateProblem as exc:
            mark = self.doc.text_mark(path, exc.line)
            self.issues.append(PolicyIssue(self.doc.source, mark.line, mark.column, str(exc)))
            return None


def parse_policy(text: str, source: str = "<policy>") -> RoutingPolicy:
    """Validate a policy written in YAML; raise :class:`PolicyError` listing every located problem.

    Its ``tests:`` are not read here: :mod:`policies.testing` reads and runs a policy's tests.
    """
    return policy_from_document(read_yaml(text, source))


def policy_from_document(doc: LocatedDocument) -> RoutingPolicy:
    """The validated policy of a document read by :func:`policies.yaml_reader.read_yaml`."""
    reader = _PolicyReader(doc)
    policy = reader.policy()
    if policy is None or reader.issues:
        raise PolicyError(reader.issues or [PolicyIssue(doc.source, 0, 0, "the policy is invalid")])
    return replace(policy, version=policy.content_hash(), warnings=tuple(reader.warnings))


def read_policy_file(path: Path) -> str:
    """The text of a policy (or tests) file: at most MAX_DOCUMENT_BYTES of UTF-8; PolicyError otherwise."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise PolicyError([PolicyIssue(str(path), 0, 0, f"cannot read the file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise PolicyError([PolicyIssue(str(path), 0, 0, f"file is larger than {MAX_DOCUMENT_BYTES} bytes")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyIssue(str(path), 0, 0, f"file is not UTF-8 text (byte {exc.start})")]) from None


def load_policy(path: str | Path) -> RoutingPolicy:
    """Read and validate a policy file (its tests are read by :func:`policies.testing.load_tested_policy`)."""
    path = Path(path)
    return parse_policy(read_policy_file(path), str(path))
