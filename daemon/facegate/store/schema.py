"""The database schema and its migrations.

Each migration is a list of statements run in one transaction together with the version
bump, so a crash leaves the database at either the old or the new version. Biometric tables
(``templates``) hold no identity field: a person is only a random pseudonym there.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: list[list[str]] = [
    # v1: people with wrapped data keys, consent records, sealed templates, anonymized events.
    [
        """CREATE TABLE people (
            pseudonym   TEXT PRIMARY KEY,
            wrapped_key BLOB NOT NULL,
            created_at  REAL NOT NULL
        )""",
        """CREATE TABLE consents (
            consent_id     TEXT PRIMARY KEY,
            pseudonym      TEXT NOT NULL,
            given_at       REAL NOT NULL,
            method         TEXT NOT NULL,
            notice_version TEXT NOT NULL,
            taken_by       TEXT NOT NULL,
            scope          TEXT NOT NULL,
            separate       INTEGER NOT NULL CHECK (separate = 1),
            withdrawn_at   REAL
        )""",
        "CREATE INDEX consents_by_person ON consents(pseudonym)",
        """CREATE TABLE templates (
            id          INTEGER PRIMARY KEY,
            pseudonym   TEXT NOT NULL REFERENCES people(pseudonym) ON DELETE CASCADE,
            consent_id  TEXT NOT NULL REFERENCES consents(consent_id),
            space       TEXT NOT NULL,
            dim         INTEGER NOT NULL,
            sealed      BLOB NOT NULL,
            created_at  REAL NOT NULL,
            expires_at  REAL
        )""",
        "CREATE INDEX templates_by_person ON templates(pseudonym)",
        """CREATE TABLE events (
            id      INTEGER PRIMARY KEY,
            ts      REAL NOT NULL,
            door    TEXT NOT NULL,
            method  TEXT NOT NULL,
            result  TEXT NOT NULL,
            subject TEXT,
            score   REAL,
            reason  TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_time ON events(ts)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
