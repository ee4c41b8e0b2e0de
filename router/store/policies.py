"""Routing policies kept in the store: every version ever used, which one routes now, and who changed it.

A version is stored under ``RoutingPolicy.version`` (the hash of the policy's behaviour), the id every decision
records, so a logged decision's policy can always be read back and replayed. One version is active at a time:
the one-row ``active_policy`` pointer names it, and every change of it (activation, rollback, seeding from the
configured file) locks that row first and writes the pointer and a row of the activation log in the same
transaction. Two processes changing the active policy at once therefore queue up behind each other and the log
reads in the order the changes took effect.

The functions here run in the caller's session and leave the commit to it (as the rest of the store does), so
storing a file's text and activating it is one transaction. Errors are :class:`PolicyStoreError` (a
:class:`~router.store.StoreError`) or the policy language's own :class:`~policies.PolicyError`.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors.records import MAX_ID_CHARS
from connectors.redaction import CONTROL_CHARACTERS
from policies import PolicyError, PolicyWithTests, RoutingPolicy, parse_policy, parse_tested_policy, tests_path_for
from policies.yaml_reader import MAX_DOCUMENT_BYTES
from router.store.database import StoreError
from router.store.record_store import _insert_for
from router.store.tables import ActivePolicyRow, PolicyActivationRow, PolicyVersionRow

#: The shortest version prefix accepted: shorter ones would match by accident as versions accumulate.
MIN_PREFIX = 4
_SOURCE_CHARS = 1_000
_HEX = re.compile("[0-9a-f]+")


class PolicyStoreError(StoreError):
    """The stored policies cannot do what was asked; the message says what to do instead."""


@dataclass(frozen=True)
class StoredPolicy:
    """One stored policy version."""

    version: str
    name: str
    text: str
    source: str
    added_by: str
    added_at: datetime

    def policy(self) -> RoutingPolicy:
        """The version as a policy to route with, validated again by this deskroute's policy language."""
        try:
            return parse_policy(self.text, f"stored policy {self.version}")
        except PolicyError as exc:
            first = exc.issues[0] if exc.issues else "invalid"
            raise PolicyStoreError(
                f"the stored policy version {self.version} ('{self.name}') no longer validates ({first}); "
                "activate one that does: deskroute policy activate FILE"
            ) from None


@dataclass(frozen=True)
class Activation:
    """One entry of the activation log."""

    version: str
    previous_version: str | None
    action: str
    activated_by: str
    activated_at: datetime


@dataclass(frozen=True)
class PolicyHistory:
    """Every stored version (oldest first), the activation log (oldest first) and the active version."""

    versions: list[StoredPolicy]
    activations: list[Activation]
    active: str | None


def default_actor() -> str:
    """Who is acting when no name is given: the operating system's user, or ``unknown`` where it has none."""
    try:
        return check_actor(getpass.getuser(), "the operating system's user name")
    except (OSError, KeyError, ImportError, PolicyStoreError):
        return "unknown"


def check_actor(name: str, what: str = "--by") -> str:
    """A name recorded as who added or activated a policy: one line of printable text, as long as an id."""
    name = name.strip()
    if not name:
        raise PolicyStoreError(f"{what}: the name is empty; give who is making the change, e.g. --by alice")
    if CONTROL_CHARACTERS.search(name) or "\t" in name or "\n" in name:
        raise PolicyStoreError(f"{what}: the name holds control characters; give a name of printable characters")
    if len(name) > MAX_ID_CHARS:
        raise PolicyStoreError(f"{what}: the name is {len(name)} characters long; at most {MAX_ID_CHARS}")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        raise PolicyStoreError(f"{what}: the name is not valid Unicode text")
    return name


def _source_label(source: str) -> str:
    """Where a text came from, storable by any database (a file name may hold undecodable bytes)."""
    text = source.replace("\x00", "").encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= _SOURCE_CHARS else text[: _SOURCE_CHARS - 3] + "..."


def _stored(row: PolicyVersionRow) -> StoredPolicy:
    return StoredPolicy(row.version, row.name, row.text, row.source, row.added_by, row.added_at)


def read_policy_file(path: Path, *, with_tests: bool = False) -> tuple[str, PolicyWithTests]:
    """A policy file's text and the policy it holds; with ``with_tests``, its tests too (``NAME.tests.yaml``).

    The text is read once, so what is validated and tested is exactly what gets stored.
    """

    def read(file: Path) -> str:
        try:
            with file.open("rb") as handle:
                raw = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise PolicyStoreError(f"{file}: cannot read the policy: {exc.strerror or exc}") from None
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise PolicyStoreError(f"{file}: the file is larger than {MAX_DOCUMENT_BYTES} bytes; it is no policy")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PolicyStoreError(f"{file}: the file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None

    text = read(path)
    if not with_tests:
        return text, PolicyWithTests(parse_policy(text, str(path)), ())
    beside = tests_path_for(path)
    tests_text = read(beside) if beside.is_file() and beside != path else None
    tested = parse_tested_policy(
        text, str(path), tests_text=tests_text, tests_source=str(beside) if tests_text else None
    )
    return text, tested


def store_policy(
    session: Session, text: str, source: str, added_by: str, *, now: datetime | None = None
) -> StoredPolicy:
    """Validate a policy's YAML and store it under its version; a version stored before is kept as it was.

    Raises :class:`~policies.PolicyError` (every located problem) when the text is not a valid policy, before
    anything is written.
    """
    policy = parse_policy(text, source)
    table = PolicyVersionRow.__table__  # type: ignore[attr-defined]
    insert = _insert_for(session)
    # Two processes storing the same version at once: the first one's row stands, the second writes nothing.
    session.execute(
        insert(table)
        .values(
            version=policy.version,
            name=policy.name,
            text=text,
            source=_source_label(source),
            added_by=check_actor(added_by),
            added_at=now or datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )
    row = session.get(PolicyVersionRow, policy.version)
    assert row is not None  # just written, or there before
    return _stored(row)


def find_version(session: Session, version: str) -> StoredPolicy:
    """A stored version by its id or a unique prefix of it (at least four characters)."""
    wanted = version.strip().lower()
    shown = version if len(version) <= 40 else version[:37] + "..."
    if not _HEX.fullmatch(wanted):
        raise PolicyStoreError(
            f"{shown!r} is not a policy version (versions are hexadecimal, e.g. 3f2a9c1d); "
            "deskroute policy history lists them"
        )
    if len(wanted) < MIN_PREFIX:
        raise PolicyStoreError(f"{shown!r}: give at least {MIN_PREFIX} characters of the version")
    rows = session.exec(
        select(PolicyVersionRow)
        # Only hexadecimal digits reach here, so the prefix holds no LIKE wildcard.
        .where(col(PolicyVersionRow.version).startswith(wanted))
        .order_by(PolicyVersionRow.version)
        .limit(6)
    ).all()
    if not rows:
        raise PolicyStoreError(f"no stored policy version starts with {shown!r}; deskroute policy history lists them")
    if len(rows) > 1:
        listed = ", ".join(r.version for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise PolicyStoreError(f"{shown!r} is the start of several policy versions ({listed}); give more of it")
    return _stored(rows[0])


def policy_text(session: Session, version: str) -> str:
    """The YAML text of a stored version (its id or a unique prefix)."""
    return find_version(session, version).text


def _lock_pointer(session: Session) -> ActivePolicyRow:
    """Lock the active-policy pointer for the rest of the transaction and read it.

    A write comes first, whatever the database: on PostgreSQL it takes the row lock (a concurrent change waits
    and then reads what the first one committed); on SQLite it takes the database's write lock before anything
    is read, so no change is decided on a stale view.
    """
    session.execute(sa.update(ActivePolicyRow).where(ActivePolicyRow.id == 1).values(id=1))  # type: ignore[arg-type]
    session.expire_all()
    pointer = session.get(ActivePolicyRow, 1)
    if pointer is None:  # the migration writes the row; a store without it was changed by hand
        raise PolicyStoreError(
            "the store has no active-policy row (table active_policy); run deskroute db upgrade, or restore the "
            "database from a backup"
        )
    return pointer


def _switch(
    session: Session, pointer: ActivePolicyRow, version: str, action: str, by: str, now: datetime
) -> Activation:
    """Make ``version`` active under the locked pointer, with its row in the activation log."""
    entry = PolicyActivationRow(
        version=version, previous_version=pointer.version, action=action, activated_by=by, activated_at=now
    )
    session.add(entry)
    session.flush()
    pointer.previous_version, pointer.version = pointer.version, version
    pointer.activation_id, pointer.updated_at = entry.id, now
    session.add(pointer)
    session.flush()
    return Activation(version, entry.previous_version, action, by, now)


def activate(session: Session, version: str, activated_by: str, *, now: datetime | None = None) -> Activation | None:
    """Make a stored version (id or unique prefix) the active one; None when it already is (nothing logged)."""
    by = check_actor(activated_by)
    pointer = _lock_pointer(session)
    stored = find_version(session, version)
    if pointer.version == stored.version:
        return None
    return _switch(session, pointer, stored.version, "activate", by, now or datetime.now(UTC))


def activate_text(
    session: Session, text: str, source: str, activated_by: str, *, now: datetime | None = None
) -> tuple[StoredPolicy, Activation | None]:
    """Store a policy's YAML (see :func:`store_policy`) and make it the active version, in the caller's transaction.

    The pointer is locked before the version is written, the order every change here keeps (seeding too), so two
    processes storing and activating the same text wait for each other instead of deadlocking.
    """
    by = check_actor(activated_by)
    moment = now or datetime.now(UTC)
    pointer = _lock_pointer(session)
    stored = store_policy(session, text, source, by, now=moment)
    if pointer.version == stored.version:
        return stored, None
    return stored, _switch(session, pointer, stored.version, "activate", by, moment)


def rollback(session: Session, activated_by: str, *, now: datetime | None = None) -> Activation:
    """Re-activate the version that was active before the current one (a second rollback undoes the first)."""
    by = check_actor(activated_by)
    pointer = _lock_pointer(session)
    if pointer.version is None:
        raise PolicyStoreError("no policy is active yet, so there is nothing to roll back")
    if pointer.previous_version is None:
        raise PolicyStoreError(
            f"policy version {pointer.version} is the only one ever active; there is no earlier version to roll "
            "back to (deskroute policy activate FILE|VERSION makes another one active)"
        )
    return _switch(session, pointer, pointer.previous_version, "rollback", by, now or datetime.now(UTC))


def active_policy(session: Session) -> StoredPolicy | None:
    """The active version, or None when no policy has been activated yet."""
    pointer = session.get(ActivePolicyRow, 1)
    if pointer is None or pointer.version is None:
        return None
    row = session.get(PolicyVersionRow, pointer.version)
    return _stored(row) if row is not None else None


def seed_policy(session: Session, path: Path, added_by: str, *, now: datetime | None = None) -> StoredPolicy:
    """The active version; when there is none yet, the policy file ``path`` stored and activated first.

    Seeding happens once: afterwards the store's active version is the policy, whatever the file says later.
    """
    pointer = _lock_pointer(session)
    if pointer.version is not None:  # another process seeded (or activated) while we waited for the lock
        stored = active_policy(session)
        assert stored is not None
        return stored
    text, _ = read_policy_file(path)
    moment = now or datetime.now(UTC)
    stored = store_policy(session, text, str(path.absolute()), added_by, now=moment)
    _switch(session, pointer, stored.version, "seed", check_actor(added_by), moment)
    return stored


def history(session: Session) -> PolicyHistory:
    """Every stored version and the whole activation log, oldest first."""
    versions = session.exec(
        select(PolicyVersionRow).order_by(PolicyVersionRow.added_at, PolicyVersionRow.version)  # type: ignore[arg-type]
    ).all()
    log = session.exec(select(PolicyActivationRow).order_by(PolicyActivationRow.id)).all()  # type: ignore[arg-type]
    pointer = session.get(ActivePolicyRow, 1)
    return PolicyHistory(
        versions=[_stored(v) for v in versions],
        activations=[Activation(a.version, a.previous_version, a.action, a.activated_by, a.activated_at) for a in log],
        active=pointer.version if pointer is not None else None,
    )


def routing_policy(session: Session, configured: Path | None, added_by: str | None = None) -> RoutingPolicy:
    """THE policy to route with: the store's active version; on first use, the configured file seeded into it.

    Commits a seeding; raises PolicyStoreError when nothing is active and no file is configured.
    """
    stored = active_policy(session)
    if stored is None:
        if configured is None:
            raise PolicyStoreError(
                "no routing policy: set `policy` in deskroute.toml (it is stored and activated on first use) or "
                "run deskroute policy activate FILE"
            )
        stored = seed_policy(session, configured, added_by or default_actor())
        session.commit()
    policy = stored.policy()
    if policy.version != stored.version:
        # This deskroute hashes the same text differently (its policy language changed how a policy is read):
        # the decisions made now record the new version, so the text is stored under it too.
        store_policy(session, stored.text, f"{stored.source} (version {stored.version} read again)", stored.added_by)
        session.commit()
    return policy
