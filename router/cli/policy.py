"""``deskroute policy``: validate a routing policy, explain its decision for a ticket, run its tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from connectors import Customer, RecordError, Ticket
from policies import (
    PolicyError,
    PolicyTestResult,
    PolicyWithTests,
    RoutingPolicy,
    Signals,
    decide,
    load_tested_policy,
    run_policy_tests,
    tests_path_for,
)
from policies.ticket_signals import Decision
from router.cli.common import (
    ConfigOption,
    EncodingOption,
    console,
    err_console,
    fail,
    open_store,
    settings,
    styled,
    user_errors,
    warn,
)
from router.cli.options import output_file, parse_moment, write_output
from router.store import StoreError

app = typer.Typer(
    help="Routing policies: validate, test and explain them; the stored versions and which one routes.",
    no_args_is_help=True,
)

PolicyFile = typer.Argument(..., help="The policy YAML file, e.g. policies/examples/starter.yaml.")
MAX_JSON_BYTES = 1024 * 1024


def load_with_tests_or_exit(file: Path) -> PolicyWithTests:
    """Load a policy with its tests, or print every located problem and exit with status 1."""
    try:
        return load_tested_policy(file)
    except PolicyError as exc:
        raise _refused(file, exc, "nothing was loaded") from None


def _refused(file: Path, exc: PolicyError, outcome: str) -> typer.Exit:
    """Print every located problem of a policy; returns the exit to raise."""
    for issue in exc.issues:
        err_console.print(styled((str(issue), "red")), soft_wrap=True)
    n = len(exc.issues)
    return fail(f"{file}: {n} problem{'s' if n != 1 else ''}; {outcome}")


def load_or_exit(file: Path) -> RoutingPolicy:
    """The policy of ``file``; as for every policy command, its tests must be valid too."""
    return load_with_tests_or_exit(file).policy


@app.command("validate")
def validate(file: Path = PolicyFile) -> None:
    """Check a policy (and the tests beside it) and report every problem with its line and column."""
    policy, cases = load_with_tests_or_exit(file)
    for warning in policy.warnings:
        err_console.print(str(warning), soft_wrap=True)
    tests = f", {len(cases)} test(s)" if cases else ""
    console.print(
        f"{file}: policy '{policy.name}' is valid — version {policy.version}, {len(policy.teams)} queues, "
        f"{len(policy.rules)} rules{tests}",
        soft_wrap=True,
    )


def _json_option(value: str | None, option: str) -> dict[str, Any] | None:
    """An option that takes a JSON object inline or as a file path."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise fail(f"{option}: {value!r} is neither a JSON object nor a readable file")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise fail(f"{option}: {path} is larger than {MAX_JSON_BYTES} bytes")
        text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"{option}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise fail(f"{option}: expected a JSON object {{...}}, got {type(data).__name__}")
    return data


def _now_option(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return parse_moment(value, "--now")


def _records(
    ticket: dict[str, Any], customer: dict[str, Any] | None, signals: dict[str, Any] | None, now: datetime
) -> tuple[Ticket, Customer | None, Signals | None]:
    try:
        t = Ticket.parse(
            {"source": "cli", "external_id": "cli-1", "created_at": now, "updated_at": now, **ticket},
            where="--ticket",
        )
        c = (
            Customer.parse({"source": "cli", "external_id": "customer-1", **customer}, where="--customer")
            if customer is not None
            else None
        )
    except RecordError as exc:
        raise fail(str(exc)) from None
    s = None
    if signals is not None:
        try:
            s = Signals.model_validate(signals)
        except ValueError as exc:
            errors: list[Any] = getattr(exc, "errors", list)()
            detail = "; ".join(f"field '{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in errors) or str(exc)
            raise fail(f"--signals: {detail}") from None
    return t, c, s


def print_decision(policy: RoutingPolicy, decision: Decision) -> None:
    """The trace as a table (rule, fired, why, effects), then the actions."""
    table = Table(title=f"policy '{policy.name}' version {policy.version}", show_lines=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("fired")
    table.add_column("why")
    table.add_column("effects")
    for entry in decision.trace:
        why = entry.reason if not entry.details else "; ".join(entry.details)
        table.add_row(entry.rule, "yes" if entry.fired else "no", why, "\n".join(entry.effects))
    console.print(table)
    if decision.abstained:
        console.print(f"abstained ({decision.abstain_source}): {decision.abstain_reason}", soft_wrap=True)
    if not decision.actions:
        console.print("no actions")
    for action in decision.actions:
        params = ", ".join(f"{k}={v!r}" for k, v in action.params.items())
        console.print(f"{action.kind} → {action.target}: {params}", soft_wrap=True)


@app.command("explain")
def explain(
    file: Path = PolicyFile,
    ticket: str = typer.Option(..., "--ticket", help="The ticket as a JSON object or a JSON file."),
    signals: str | None = typer.Option(None, "--signals", help="Model signals as JSON (intent, churn_risk, ...)."),
    customer: str | None = typer.Option(None, "--customer", help="The customer as JSON (attributes, opted_out)."),
    now: str | None = typer.Option(None, "--now", help="The moment of deciding, ISO 8601 (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON instead of a table."),
) -> None:
    """Decide one ticket and show, rule by rule, what fired and why."""
    policy = load_or_exit(file)
    moment = _now_option(now)
    ticket_data = _json_option(ticket, "--ticket") or {}
    t, c, s = _records(ticket_data, _json_option(customer, "--customer"), _json_option(signals, "--signals"), moment)
    decision = decide(policy, t, c, s, moment)
    if as_json:
        console.print_json(decision.model_dump_json())
        return
    print_decision(policy, decision)


@app.command("test")
def test(
    file: Path = PolicyFile,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show passing tests too."),
) -> None:
    """Run the policy's tests (inline 'tests:' and NAME.tests.yaml beside it); exit 1 if any fails."""
    policy, cases = load_with_tests_or_exit(file)
    if not cases:
        raise fail(f"{file}: no tests; add a 'tests:' list to the policy or to {tests_path_for(file).name}")
    results = run_policy_tests(policy, cases)
    failed = _report_tests(results, verbose)
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed — policy '{policy.name}' {policy.version}"
    if failed:
        raise fail(summary)
    console.print(styled((summary, "green")), soft_wrap=True)


def _report_tests(results: list[PolicyTestResult], verbose: bool) -> list[PolicyTestResult]:
    """Print each failing test (and passing ones when ``verbose``); returns the failures."""
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed:
            if verbose:
                console.print(styled(("PASS", "green"), f" {result.case.name}"), soft_wrap=True)
            continue
        console.print(styled(("FAIL", "red"), f" {result.case.location}: {result.case.name}"), soft_wrap=True)
        for failure in result.failures:
            console.print(f"     {failure}", soft_wrap=True)
        fired = ", ".join(result.decision.fired_rules()) or "none"
        console.print(f"     fired: {fired}", soft_wrap=True)
    return failed


def _signals_for(cfg_path: Path | None, use_models: bool):  # type: ignore[no-untyped-def]
    """The models' signals for a batch of tickets, or none (rules only) when no model is trained."""
    from router.cli.common import open_store, settings
    from router.runtime import Runtime
    from router.simulation import rules_only

    if not use_models:
        return rules_only
    cfg = settings(cfg_path)
    with user_errors():
        return Runtime(cfg, store=open_store(cfg)).signal_source().signals_for


@app.command("simulate")
def simulate(
    file: Path = PolicyFile,
    dataset: Path = typer.Option(..., "--dataset", help="Labelled tickets (CSV or JSONL) to replay."),
    label: str | None = typer.Option(None, "--label", help="Column holding the right queue, for the misroute rate."),
    models: bool = typer.Option(True, "--models/--rules-only", help="Use the trained models' signals."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    encoding: str = EncodingOption,
    config: Path | None = typer.Option(None, "--config", "-c", help="deskroute.toml (for the models' location)."),
) -> None:
    """Replay labelled tickets through the models and the policy: what it would do, before it goes live."""
    from router.cli.common import user_errors
    from router.simulation import simulate as run_simulation

    if json_path is not None:
        output_file(json_path, "--json")
    policy = load_or_exit(file)
    with user_errors():
        report, _ = run_simulation(
            policy, file.name, dataset, label=label, signals_for=_signals_for(config, models), encoding=encoding
        )
    figures = report.as_dict()
    table = Table(title=f"{file.name} on {dataset.name} ({report.n} tickets)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    n = max(report.n, 1)
    table.add_row("routed automatically", f"{report.auto_routed} ({report.auto_routed / n:.0%})")
    table.add_row("abstained (to triage)", f"{report.abstained} ({report.abstained / n:.0%})")
    table.add_row("not routed by any rule", str(report.unrouted))
    rate = report.misroute_rate
    table.add_row("misrouted among auto-routed", "n/a (no --label)" if rate is None else f"{rate:.1%}")
    table.add_row("outreach planned (after guardrails)", str(report.outreach))
    table.add_row("outreach refused by guardrails", str(report.outreach_refused))
    console.print(table)
    for title, counts in (
        ("queue", report.per_queue),
        ("priority", report.priorities),
        ("rule fired", report.rules_fired),
    ):
        t = Table(title=f"tickets per {title}")
        t.add_column(title)
        t.add_column("tickets", justify="right")
        for key, value in counts.most_common():
            t.add_row(key, str(value))
        console.print(t)
    if report.bad_rows:
        warn(f"{len(report.bad_rows)} bad row(s) skipped, first: {report.bad_rows[0]}")
    if json_path is not None:
        write_output(json_path, json.dumps(figures, indent=2) + "\n", "--json")
        console.print(f"wrote {json_path}")


@app.command("diff")
def diff(
    a: Path = typer.Argument(..., help="The current policy."),
    b: Path = typer.Argument(..., help="The changed policy."),
    dataset: Path = typer.Option(..., "--dataset", help="Tickets (CSV or JSONL) to decide with both."),
    models: bool = typer.Option(True, "--models/--rules-only", help="Use the trained models' signals."),
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many changed tickets."),
    encoding: str = EncodingOption,
    config: Path | None = typer.Option(None, "--config", "-c", help="deskroute.toml (for the models' location)."),
) -> None:
    """The tickets whose decision changes between policy A and policy B, and how."""
    from router.cli.common import user_errors
    from router.simulation import diff as run_diff

    policy_a, policy_b = load_or_exit(a), load_or_exit(b)
    with user_errors():
        total, changes = run_diff(
            policy_a, policy_b, dataset, signals_for=_signals_for(config, models), encoding=encoding
        )
    console.print(f"{len(changes)} of {total} decisions change between {a.name} and {b.name}")
    table = Table()
    for column in ("ticket", "subject", "what changes", "before", "after"):
        table.add_column(column)
    for change in changes[:limit]:
        fields = change.changed_fields
        table.add_row(
            change.ticket_id,
            change.subject[:40],
            ", ".join(fields),
            "; ".join(f"{k}={change.before[k]}" for k in fields),
            "; ".join(f"{k}={change.after[k]}" for k in fields),
        )
    console.print(table)


# The stored versions: which policy routes, who changed it, and going back.

ByOption = typer.Option(
    None, "--by", help="Who makes the change, for the record (default: the operating system's user)."
)


def _actor(by: str | None) -> str:
    from router.store.policies import check_actor, default_actor

    with user_errors():
        return check_actor(by) if by is not None else default_actor()


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _is_version(target: str) -> bool:
    """A stored version id or prefix is hexadecimal; anything else is taken for a file name."""
    return bool(target) and all(c in "0123456789abcdefABCDEF" for c in target)


@app.command("activate")
def activate(
    target: str = typer.Argument(..., help="A policy YAML file, or a stored version id (or a unique prefix of one)."),
    by: str | None = ByOption,
    config: Path | None = ConfigOption,
) -> None:
    """Make a policy the one deskroute routes with: a file (validated and its tests run first) or a stored version."""
    from router.store import policies as stored_policies

    actor = _actor(by)
    if not target.strip():
        raise fail("give a policy YAML file or a stored version (deskroute policy history lists them)")
    path = Path(target)
    if path.is_dir():
        raise fail(f"{target}: is a folder; give a policy YAML file or a stored version")
    from_file = path.exists() or not _is_version(target)
    text = None
    if from_file:
        if not path.exists():
            raise fail(f"{target}: no such file, and not a stored version (deskroute policy history lists them)")
        try:
            text, (policy, cases) = stored_policies.read_policy_file(path, with_tests=True)
        except PolicyError as exc:
            raise _refused(path, exc, "nothing was stored or activated") from None
        except StoreError as exc:
            raise fail(str(exc)) from None
        for warning in policy.warnings:
            err_console.print(str(warning), soft_wrap=True)
        if cases:
            results = run_policy_tests(policy, cases)
            failed = _report_tests(results, verbose=False)
            if failed:
                raise fail(
                    f"{target}: {len(failed)} of {len(results)} test(s) failed; nothing was stored or activated "
                    "(deskroute policy test FILE -v shows them all)"
                )
        else:
            warn(f"{target}: the policy has no tests to run before activating it")
    store = open_store(settings(config))
    with user_errors(), store.session() as session:
        if text is not None:
            chosen, change = stored_policies.activate_text(session, text, str(path.absolute()), actor)
        else:
            chosen = stored_policies.find_version(session, target)
            change = stored_policies.activate(session, chosen.version, actor)
        session.commit()
    if change is None:
        console.print(f"policy '{chosen.name}' version {chosen.version} is already the active one", soft_wrap=True)
        return
    was = f" (was {change.previous_version})" if change.previous_version else ""
    console.print(
        styled(("activated", "bold green"), f" policy '{chosen.name}' version {chosen.version}{was}; by {actor}"),
        soft_wrap=True,
    )


@app.command("rollback")
def rollback(by: str | None = ByOption, config: Path | None = ConfigOption) -> None:
    """Re-activate the version that was active before the current one (a second rollback undoes the first)."""
    from router.store import policies as stored_policies

    actor = _actor(by)
    store = open_store(settings(config))
    with user_errors(), store.session() as session:
        change = stored_policies.rollback(session, actor)
        session.commit()
        now = stored_policies.find_version(session, change.version)
    console.print(
        styled(
            ("rolled back", "bold yellow"),
            f" to policy '{now.name}' version {now.version} (was {change.previous_version}); by {actor}",
        ),
        soft_wrap=True,
    )


@app.command("history")
def history(
    as_json: bool = typer.Option(False, "--json", help="Print the versions and the activation log as JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """The stored policy versions (the active one marked) and the log of who activated which, when."""
    from router.store import policies as stored_policies

    store = open_store(settings(config))
    with user_errors(), store.session() as session:
        found = stored_policies.history(session)
    if as_json:
        console.print_json(
            data={
                "active": found.active,
                "versions": [
                    {
                        "version": v.version,
                        "name": v.name,
                        "source": v.source,
                        "added_by": v.added_by,
                        "added_at": _when(v.added_at),
                        "active": v.version == found.active,
                    }
                    for v in found.versions
                ],
                "activations": [
                    {
                        "version": a.version,
                        "previous_version": a.previous_version,
                        "action": a.action,
                        "activated_by": a.activated_by,
                        "activated_at": _when(a.activated_at),
                    }
                    for a in found.activations
                ],
            }
        )
        return
    if not found.versions:
        console.print(
            "no policy stored yet: the configured `policy` file is stored on first use, or run "
            "deskroute policy activate FILE",
            soft_wrap=True,
        )
        return
    # One line per entry, never a table: versions and times are what a person copies from here, and a table
    # would cut them short on a narrow terminal.
    console.print(styled(("policy versions", "bold"), " (oldest first; * marks the active one)"))
    for v in found.versions:
        mark = "*" if v.version == found.active else " "
        console.print(
            f"{mark} {v.version}  '{v.name}'  added by {v.added_by} at {_when(v.added_at)} from {v.source}",
            soft_wrap=True,
        )
    console.print(styled(("activations", "bold"), " (oldest first)"))
    for a in found.activations:
        was = f" (was {a.previous_version})" if a.previous_version else ""
        console.print(f"  {_when(a.activated_at)}  {a.action} {a.version}{was} by {a.activated_by}", soft_wrap=True)


@app.command("show")
def show(
    version: str | None = typer.Argument(None, help="A stored version id or unique prefix (default: the active one)."),
    config: Path | None = ConfigOption,
) -> None:
    """Print a stored policy version's YAML, e.g. the version a logged decision was made with."""
    from router.store import policies as stored_policies

    store = open_store(settings(config))
    with user_errors(), store.session() as session:
        if version is None:
            chosen = stored_policies.active_policy(session)
            if chosen is None:
                raise fail("no policy is active yet; name a version (deskroute policy history lists them)")
        else:
            chosen = stored_policies.find_version(session, version)
    err_console.print(
        f"policy '{chosen.name}' version {chosen.version}, added by {chosen.added_by} at {_when(chosen.added_at)} "
        f"from {chosen.source}",
        soft_wrap=True,
    )
    console.print(chosen.text, soft_wrap=True, end="" if chosen.text.endswith("\n") else "\n")
