"""The SMTP sent-ledger: which messages the relay has taken, shared by every worker that sends.

A message is sent at most once per idempotency key, across retries and across worker replicas:
before sending, a worker *claims* the key; the claim is turned into *sent* once the relay accepted
the message, and released if it refused it (so that a retry may send it). A key another worker
is sending right now is *busy*: the activity fails and Temporal retries it, by when the key is
sent (a duplicate, not sent again) or its claim has gone stale. A claim goes stale when its worker
died mid-send (after :data:`STALE_CLAIM` at least); the next attempt takes it over and sends again,
with the same ``Message-ID``, which mail systems de-duplicate.

Two stores, one table: SQLite (a file under ``DATA_DIR``; one machine, the embedded default) and
PostgreSQL (``LEDGER_DATABASE_URL``; what several worker replicas share in production, the same
server as Temporal's). Entries older than ``LEDGER_RETENTION_DAYS`` are pruned.
"""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Protocol

import psycopg

STALE_CLAIM = timedelta(minutes=2)
"""A claim older than this is taken to belong to a worker that died mid-send."""

_ADVISORY_LOCK = 0x6361726D  # "carm": creating the table once, whoever starts first


class Claim(Enum):
    mine = "mine"
    """This worker may send it now."""
    sent = "sent"
    """The relay has it already: a duplicate."""
    busy = "busy"
    """Another worker is sending it right now."""


class SentLedger(Protocol):
    async def claim(self, key: str, stale_after: timedelta = STALE_CLAIM) -> Claim: ...

    async def sent(self, key: str) -> None: ...

    async def stale_in(self, key: str, stale_after: timedelta = STALE_CLAIM) -> timedelta | None:
        """How long until the claim on ``key`` goes stale (zero once it has); None if not being sent."""
        ...

    async def release(self, key: str) -> None: ...

    async def prune(self, older_than: timedelta) -> int:
        """Forget the keys claimed or sent before ``older_than`` ago; how many."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class SqliteLedger:
    """The ledger in a SQLite file: for one machine (several processes may share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS smtp_sent (key TEXT PRIMARY KEY, state TEXT NOT NULL, "
                "claimed_at TEXT NOT NULL, sent_at TEXT)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS smtp_sent_claimed_at ON smtp_sent (claimed_at)")
            # A ledger written before claims existed: its keys were all sent.
            if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sent'").fetchone():
                db.execute("INSERT OR IGNORE INTO smtp_sent SELECT key, 'sent', sent_at, sent_at FROM sent")
                db.execute("DROP TABLE sent")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: calls come from worker threads, and sqlite's own file locking
        # lets several worker processes share one ledger.
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            yield db

    def _claim(self, key: str, stale_after: timedelta) -> Claim:
        now = _now()
        with self._db() as db:
            taken = db.execute(
                "INSERT INTO smtp_sent (key, state, claimed_at) VALUES (?, 'sending', ?) "
                "ON CONFLICT (key) DO UPDATE SET claimed_at = excluded.claimed_at "
                "WHERE smtp_sent.state = 'sending' AND smtp_sent.claimed_at < ? RETURNING key",
                (key, now.isoformat(), (now - stale_after).isoformat()),
            ).fetchone()
            if taken:
                return Claim.mine
            row = db.execute("SELECT state FROM smtp_sent WHERE key = ?", (key,)).fetchone()
        return Claim.sent if row and row[0] == "sent" else Claim.busy

    async def claim(self, key: str, stale_after: timedelta = STALE_CLAIM) -> Claim:
        return await asyncio.to_thread(self._claim, key, stale_after)

    def _claimed_at(self, key: str) -> datetime | None:
        with self._db() as db:
            row = db.execute(
                "SELECT claimed_at FROM smtp_sent WHERE key = ? AND state = 'sending'", (key,)
            ).fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    async def stale_in(self, key: str, stale_after: timedelta = STALE_CLAIM) -> timedelta | None:
        claimed_at = await asyncio.to_thread(self._claimed_at, key)
        if claimed_at is None:
            return None
        return max(claimed_at + stale_after - _now(), timedelta(0))

    def _run(self, sql: str, *args: str) -> int:
        with self._db() as db:
            return db.execute(sql, args).rowcount

    async def sent(self, key: str) -> None:
        await asyncio.to_thread(
            self._run,
            "UPDATE smtp_sent SET state = 'sent', sent_at = ? WHERE key = ?",
            _now().isoformat(),
            key,
        )

    async def release(self, key: str) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM smtp_sent WHERE key = ? AND state = 'sending'", key)

    async def prune(self, older_than: timedelta) -> int:
        cutoff = (_now() - older_than).isoformat()
        return await asyncio.to_thread(self._run, "DELETE FROM smtp_sent WHERE claimed_at < ?", cutoff)


class PostgresLedger:
    """The ledger in PostgreSQL: one for every worker replica, wherever they run.

    A connection per call (messages are few; nothing to keep alive or to reconnect), in autocommit
    so that a claim is visible to the other workers the moment it is made.
    """

    def __init__(self, url: str, *, connect_timeout: float = 10) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._ready = False

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        connection = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=int(self.connect_timeout)
        )
        if not self._ready:
            # CREATE ... IF NOT EXISTS is not safe against itself: two workers starting together
            # can both try, and one fails. The advisory lock lets one go first.
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK,))
                await connection.execute(
                    "CREATE TABLE IF NOT EXISTS smtp_sent (key text PRIMARY KEY, state text NOT NULL, "
                    "claimed_at timestamptz NOT NULL, sent_at timestamptz)"
                )
                await connection.execute(
                    "CREATE INDEX IF NOT EXISTS smtp_sent_claimed_at ON smtp_sent (claimed_at)"
                )
            self._ready = True
        return connection

    async def claim(self, key: str, stale_after: timedelta = STALE_CLAIM) -> Claim:
        async with await self._connect() as db:
            cursor = await db.execute(
                "INSERT INTO smtp_sent (key, state, claimed_at) VALUES (%s, 'sending', now()) "
                "ON CONFLICT (key) DO UPDATE SET claimed_at = now() "
                "WHERE smtp_sent.state = 'sending' AND smtp_sent.claimed_at < now() - %s RETURNING key",
                (key, stale_after),
            )
            if await cursor.fetchone():
                return Claim.mine
            cursor = await db.execute("SELECT state FROM smtp_sent WHERE key = %s", (key,))
            row = await cursor.fetchone()
        return Claim.sent if row and row[0] == "sent" else Claim.busy

    async def sent(self, key: str) -> None:
        async with await self._connect() as db:
            await db.execute("UPDATE smtp_sent SET state = 'sent', sent_at = now() WHERE key = %s", (key,))

    async def stale_in(self, key: str, stale_after: timedelta = STALE_CLAIM) -> timedelta | None:
        async with await self._connect() as db:
            cursor = await db.execute(
                "SELECT greatest(claimed_at + %s - now(), interval '0') FROM smtp_sent "
                "WHERE key = %s AND state = 'sending'",
                (stale_after, key),
            )
            row = await cursor.fetchone()
        if row is None:
            return None
        left = row[0]
        assert isinstance(left, timedelta)  # psycopg reads an interval as a timedelta
        return left

    async def release(self, key: str) -> None:
        async with await self._connect() as db:
            await db.execute("DELETE FROM smtp_sent WHERE key = %s AND state = 'sending'", (key,))

    async def prune(self, older_than: timedelta) -> int:
        async with await self._connect() as db:
            cursor = await db.execute("DELETE FROM smtp_sent WHERE claimed_at < now() - %s", (older_than,))
            return cursor.rowcount
