"""The database schema and its migrations.

Each migration is a list of statements run in one transaction together with the version
bump, so a crash leaves the database at either the old or the new version. Biometric tables
(``templates``) hold no identity field: a person is only a random pseudonym there.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: list[list[str]] = [
    # v1: people with wrapped data keys, consent records, sealed templates, pseudonymised events.
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

MIGRATIONS.append(
    # v2: identity apart from biometrics, guardian consent, PIN/card credentials, device keys,
    # processing records (kept >= 3 years), and the master key's fingerprint.
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # Display name, unit, phone, birth year: one sealed JSON per person, with their key.
        """CREATE TABLE identities (
            pseudonym TEXT PRIMARY KEY REFERENCES people(pseudonym) ON DELETE CASCADE,
            sealed    BLOB NOT NULL
        )""",
        "ALTER TABLE people ADD COLUMN minor INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE people ADD COLUMN valid_from REAL",
        "ALTER TABLE people ADD COLUMN valid_until REAL",
        "ALTER TABLE consents ADD COLUMN guardian_sealed BLOB",
        "ALTER TABLE consents ADD COLUMN guardian_relation TEXT",
        "ALTER TABLE consents ADD COLUMN guardian_method TEXT",
        """CREATE TABLE credentials (
            id          INTEGER PRIMARY KEY,
            pseudonym   TEXT NOT NULL REFERENCES people(pseudonym) ON DELETE CASCADE,
            kind        TEXT NOT NULL CHECK (kind IN ('pin', 'card')),
            lookup      TEXT NOT NULL,
            verifier    TEXT,
            created_at  REAL NOT NULL,
            valid_until REAL
        )""",
        "CREATE UNIQUE INDEX credentials_by_lookup ON credentials(kind, lookup)",
        "CREATE INDEX credentials_by_person ON credentials(pseudonym)",
        "CREATE TABLE device_keys (name TEXT PRIMARY KEY, wrapped BLOB NOT NULL)",
        """CREATE TABLE processing_records (
            id         INTEGER PRIMARY KEY,
            ts         REAL NOT NULL,
            kind       TEXT NOT NULL,
            pseudonym  TEXT,
            consent_id TEXT,
            detail     TEXT NOT NULL
        )""",
        "CREATE INDEX records_by_time ON processing_records(ts)",
        "CREATE INDEX templates_by_expiry ON templates(expires_at)",
    ]
)

MIGRATIONS.append(
    # v3: rights and retention (issue 15). A template can no longer be stored without an
    # expiry (old rows get the longest life the configuration allowed, 730 days; the purge
    # also applies the configured template_days to created_at); a keyed blind index of the
    # normalised name and unit finds one person without decrypting everyone; the reference of
    # the signed consent form (filled for old
    # rows by ``people_index.backfill``: ``people.indexed`` says which are done); and the log
    # of rights requests (received, due, answered, by whom).
    [
        "UPDATE templates SET expires_at = created_at + 730 * 86400.0 WHERE expires_at IS NULL",
        """CREATE TRIGGER templates_need_expiry BEFORE INSERT ON templates
            WHEN NEW.expires_at IS NULL
            BEGIN SELECT RAISE(ABORT, 'a face template needs an expiry'); END""",
        """CREATE TRIGGER templates_keep_expiry BEFORE UPDATE OF expires_at ON templates
            WHEN NEW.expires_at IS NULL
            BEGIN SELECT RAISE(ABORT, 'a face template needs an expiry'); END""",
        "ALTER TABLE people ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0",
        # The signed form's number (paper-form) or the e-signature's id: what makes the
        # consent row evidence of a separate consent. NULL only for rows from before v3.
        "ALTER TABLE consents ADD COLUMN reference TEXT",
        """CREATE TABLE person_index (
            pseudonym TEXT NOT NULL REFERENCES people(pseudonym) ON DELETE CASCADE,
            field     TEXT NOT NULL CHECK (field IN ('name', 'unit')),
            token     TEXT NOT NULL,
            PRIMARY KEY (pseudonym, field)
        )""",
        "CREATE INDEX person_index_by_token ON person_index(field, token)",
        """CREATE TABLE requests (
            request_id  TEXT PRIMARY KEY,
            kind        TEXT NOT NULL,
            pseudonym   TEXT,
            channel     TEXT NOT NULL,
            received_at REAL NOT NULL,
            due_at      REAL NOT NULL,
            recorded_by TEXT NOT NULL,
            answered_at REAL,
            answered_by TEXT,
            outcome     TEXT
        )""",
        "CREATE INDEX requests_by_time ON requests(received_at)",
    ]
)

SCHEMA_VERSION = len(MIGRATIONS)
