"""The runtime: what every entry point (the CLI, the service, the workers) routes with, built once from Settings.

It holds the store, the clock, the connectors as they are first asked for, and two things that change while it
runs without it being rebuilt:

- the **active policy**: the store's active version, looked up before each piece of work (one primary-key read)
  and parsed again only when another version was activated, by this process or any other;
- the **signal source** (the trained models, kept warm): reloaded when a newer model version is saved under the
  data dir (a retrained text model, a refitted churn model), noticed by the registry's version folders.

Errors are the library's own exceptions (ConfigError, StoreError, PolicyError, ConnectorError, RegistryError),
with the messages a person needs; each entry point shows them its way (the CLI: one line and exit status 1).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors import Customer, Ticket
from connectors.base import Connector
from embeddings.native_threads import one_blas_thread
from policies import Decision, OutreachRecord, RoutingPolicy, Signals, decide
from router.adapters.connector_factory import build_connector, connector_settings
from router.config import ConnectorSettings, Settings
from router.loop.apply import LEASE
from router.loop.cycle import CycleReport, run_cycle
from router.loop.decide import Engine, neighbour_subjects
from router.loop.triage import find_customer
from router.signals.signal_source import SignalSource, load_signal_source
from router.store import Store
from router.store.decision_log import DecisionRecord, outreach_times
from router.store.model_registry import list_versions
from router.store.policies import default_actor, read_policy_file, routing_policy, store_policy
from router.store.tables import ActivePolicyRow

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Routed:
    """What routing one ticket gives: its signals, the policy's decision and the actions as they would be queued
    (the agents' note and tags included)."""

    ticket: Ticket
    signals: Signals
    decision: Decision
    record: DecisionRecord
    # Wall seconds of the steps: "signals" (the models: encoding, classifiers, language, churn) and "decide" (the
    # policy with the customer's outreach history, and the actions as they would be queued), for latency reports;
    # "encode" and "language" are the parts of "signals" spent in the sentence encoder and in language detection.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def step_ms(self) -> dict[str, float]:
        """Milliseconds of each step: encode, language, classify (the rest of the models) and decide."""
        encode = self.seconds.get("encode", 0.0)
        language = self.seconds.get("language", 0.0)
        steps = {
            "encode": encode,
            "language": language,
            "classify": max(self.seconds.get("signals", 0.0) - encode - language, 0.0),
            "decide": self.seconds.get("decide", 0.0),
        }
        return {step: round(seconds * 1000, 3) for step, seconds in steps.items()}

    @property
    def note(self) -> str | None:
        """The internal note deskroute writes on the ticket (its explanation first)."""
        for action in self.record.actions:
            if action.kind == "add_note":
                return str(action.params["body"])
        return None


def _activation(pointer: ActivePolicyRow | None) -> tuple[str | None, int | None] | None:
    """Which activation the pointer row records: any activate, rollback or seed changes it."""
    return (pointer.version, pointer.activation_id) if pointer is not None else None


class Runtime:
    """The store, the active policy, the warm models, the connectors and the clock, for as long as a process runs.

    Use it as a context manager (or call :meth:`close`) so the connectors' connections are released.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock = utc_now,
        policy_file: Path | None = None,
    ):
        self.settings = settings
        self.store = store if store is not None else Store(settings.database_url, create_folders=(settings.data_dir,))
        self.clock = clock
        self._connectors: dict[str, Connector] = {}
        self._fixed_policy: RoutingPolicy | None = None
        self._policy: RoutingPolicy | None = None
        self._policy_activation: tuple[str | None, int | None] | None = None
        self._signals: SignalSource | None = None
        self._models_key: tuple[Any, ...] | None = None
        # One piece of work at a time: the signal source keeps a batch's encodings between prepare and signals.
        self._lock = threading.RLock()
        if policy_file is not None:
            self._fixed_policy = self._store_one_off(policy_file)

    # --- the policy -------------------------------------------------------------------------------------------

    def _store_one_off(self, path: Path) -> RoutingPolicy:
        """A policy file used by this runtime only: stored (not activated), so its decisions can be looked up."""
        text, (policy, _) = read_policy_file(path)
        with self.store.session() as session:
            store_policy(session, text, str(path.absolute()), default_actor())
            session.commit()
        return policy

    def policy(self) -> RoutingPolicy:
        """The policy to route with now: a one-off file if given, else the store's active version.

        On first use the configured ``policy`` file is stored and activated (seeding).
        """
        if self._fixed_policy is not None:
            return self._fixed_policy
        with self.store.session() as session:
            active = _activation(session.get(ActivePolicyRow, 1))
            if self._policy is None or active is None or active != self._policy_activation:
                self._policy = routing_policy(session, self.settings.policy)
                self._policy_activation = _activation(session.get(ActivePolicyRow, 1))
        return self._policy

    # --- the models -------------------------------------------------------------------------------------------

    def _model_versions_on_disk(self) -> tuple[Any, ...]:
        """What identifies the saved models: the latest text versions and the churn model file's stamp."""
        models = self.settings.models_dir
        churn = models / "churn" / "churn.json"
        try:
            stat = churn.stat()
            churn_stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            churn_stamp = None
        return (
            tuple(list_versions(models, "text", "queue")[-1:]),
            tuple(list_versions(models, "text", "priority")[-1:]),
            churn_stamp,
        )

    def signal_source(self) -> SignalSource:
        """The trained models, loaded once and again only when a newer version has been saved."""
        key = self._model_versions_on_disk()
        if self._signals is None or key != self._models_key:
            self._signals = load_signal_source(self.settings, self.store)
            self._models_key = key
        return self._signals

    # --- connectors -------------------------------------------------------------------------------------------

    def connector_settings(self, name: str) -> ConnectorSettings:
        return connector_settings(self.settings, name)

    def connector(self, name: str) -> Connector:
        """The connector ``[connectors.NAME]``, built on first use and kept (with its connections)."""
        if name not in self._connectors:
            self._connectors[name] = build_connector(name, self.connector_settings(name))
        return self._connectors[name]

    # --- work -------------------------------------------------------------------------------------------------

    def cycle(
        self,
        name: str,
        *,
        apply: bool = True,
        scheduled: bool = False,
        worker: str | None = None,
        lease: timedelta = LEASE,
        stop: Callable[[], bool] = lambda: False,
        on_sync: Callable[[str, str], None] | None = None,
    ) -> CycleReport:
        """Sync -> decide -> apply for connector ``name``, with the active policy and the current models.

        ``scheduled``: pull only if no process pulled this connector within its poll interval (workers);
        otherwise pull now unless another process is pulling it. ``worker`` names who holds the outbox leases
        (default: this cycle); ``stop()`` is asked between batches.
        """
        with self._lock:
            settings = self.connector_settings(name)
            connector = self.connector(name)
            return run_cycle(
                self.store,
                connector,
                mode=settings.mode,
                policy=self.policy(),
                signal_source=self.signal_source(),
                now=self.clock(),
                apply=apply,
                sync_every=timedelta(seconds=settings.poll_interval_seconds) if scheduled else timedelta(0),
                worker=worker,
                lease=lease,
                stop=stop,
                on_sync=on_sync,
            )

    def route(self, ticket: Ticket, customer: Customer | None = None, *, mode: str = "shadow") -> Routed:
        """Route one ticket without recording anything: its signals, the decision and the actions it would queue.

        ``customer`` defaults to the stored customer who asked; the stored outreach history applies the policy's
        guardrails as the loop would.
        """
        # One ticket's numpy and scipy products are too small for a second BLAS thread (embeddings.native_threads).
        with self._lock, one_blas_thread(), self.store.session() as session:
            now = self.clock()
            policy = self.policy()
            source = self.signal_source()
            who = customer if customer is not None else find_customer(session, ticket)
            clocks = source.clocks()
            started = time.perf_counter()
            signals = source.signals(session, ticket, who, now)
            modelled = time.perf_counter()
            spent = {step: seconds - clocks[step] for step, seconds in source.clocks().items()}
            history = (
                [
                    OutreachRecord(sent_at=t, customer_external_id=who.external_id)
                    for t in outreach_times(session, ticket.source, who.external_id)
                ]
                if who is not None
                else []
            )
            decision = decide(policy, ticket, who, signals, now, history)
            engine = Engine(policy, source, connector=ticket.source, mode=mode)
            similar = neighbour_subjects(session, ticket.source, [n.ticket_id for n in signals.neighbours[:3]])
            record = engine.record(ticket, signals, decision, "decided_new", similar)
            seconds = {"signals": modelled - started, "decide": time.perf_counter() - modelled, **spent}
            session.rollback()
        return Routed(ticket=ticket, signals=signals, decision=decision, record=record, seconds=seconds)

    def close(self) -> None:
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
