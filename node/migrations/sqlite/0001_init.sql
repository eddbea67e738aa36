-- Initial schema of a LAPOR! node on SQLite. Times are integer milliseconds since the epoch (UTC).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE agencies (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES agencies (id),
    path        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    region_code TEXT,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);
CREATE INDEX agencies_region ON agencies (region_code);

CREATE TABLE categories (
    id      TEXT PRIMARY KEY,
    name_id TEXT NOT NULL,
    name_en TEXT NOT NULL,
    active  INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    agency_id     TEXT REFERENCES agencies (id),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    label      TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE reports (
    id                   TEXT PRIMARY KEY,
    tracking_code        TEXT NOT NULL UNIQUE,
    secret_hash          TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    title                TEXT NOT NULL,
    body                 TEXT NOT NULL,
    category_id          TEXT,
    agency_id            TEXT,
    agency_path          TEXT,
    region_code          TEXT,
    lat_e6               INTEGER,
    lon_e6               INTEGER,
    address              TEXT,
    incident_date        TEXT,
    anonymous            INTEGER NOT NULL,
    confidential         INTEGER NOT NULL,
    channel              TEXT NOT NULL,
    status               TEXT NOT NULL,
    submitted_at         INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    verified_at          INTEGER,
    responded_at         INTEGER,
    closed_at            INTEGER,
    verification_due_at  INTEGER,
    followup_due_at      INTEGER,
    autocomplete_at      INTEGER,
    escalation_at        INTEGER,
    verification_overdue INTEGER NOT NULL DEFAULT 0,
    followup_overdue     INTEGER NOT NULL DEFAULT 0,
    escalated            INTEGER NOT NULL DEFAULT 0,
    archive_reason       TEXT,
    duplicate_of         TEXT,
    rating_score         INTEGER,
    rating_comment       TEXT,
    reporter_user_id     TEXT,
    created_by           TEXT,
    version              INTEGER NOT NULL
);
CREATE INDEX reports_status ON reports (status, submitted_at);
CREATE INDEX reports_agency_path ON reports (agency_path, status);
CREATE INDEX reports_submitted ON reports (submitted_at);
CREATE INDEX reports_category ON reports (category_id);
CREATE INDEX reports_reporter ON reports (reporter_user_id);

-- Kept apart from reports so that erasing an identity never touches the report itself.
CREATE TABLE reporter_identities (
    report_id TEXT PRIMARY KEY REFERENCES reports (id),
    name      TEXT,
    phone     TEXT,
    email     TEXT
);

CREATE TABLE timeline (
    report_id   TEXT NOT NULL REFERENCES reports (id),
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    action      TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    agency_id   TEXT,
    from_status TEXT,
    to_status   TEXT,
    note        TEXT,
    PRIMARY KEY (report_id, seq)
);

-- Timeline entries are immutable.
CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
BEGIN
    SELECT RAISE(ABORT, 'timeline entries are immutable');
END;
CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
BEGIN
    SELECT RAISE(ABORT, 'timeline entries are immutable');
END;

-- Full-text search over title and body (external content: the text lives once, in reports).
CREATE VIRTUAL TABLE reports_fts USING fts5 (
    title, body, content = 'reports', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER reports_fts_insert AFTER INSERT ON reports
BEGIN
    INSERT INTO reports_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
CREATE TRIGGER reports_fts_update AFTER UPDATE OF title, body ON reports
BEGIN
    INSERT INTO reports_fts (reports_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO reports_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
CREATE TRIGGER reports_fts_delete AFTER DELETE ON reports
BEGIN
    INSERT INTO reports_fts (reports_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
END;
