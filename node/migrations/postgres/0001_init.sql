-- Initial schema of a LAPOR! node on PostgreSQL. Times are BIGINT milliseconds since the epoch (UTC).
-- Same tables, columns and indexes as migrations/sqlite/0001_init.sql; flags are BOOLEAN here.

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
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX agencies_region ON agencies (region_code);

CREATE TABLE categories (
    id      TEXT PRIMARY KEY,
    name_id TEXT NOT NULL,
    name_en TEXT NOT NULL,
    active  BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    agency_id     TEXT REFERENCES agencies (id),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    label      TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
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
    lat_e6               BIGINT,
    lon_e6               BIGINT,
    address              TEXT,
    incident_date        TEXT,
    anonymous            BOOLEAN NOT NULL,
    confidential         BOOLEAN NOT NULL,
    channel              TEXT NOT NULL,
    status               TEXT NOT NULL,
    submitted_at         BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    verified_at          BIGINT,
    responded_at         BIGINT,
    closed_at            BIGINT,
    verification_due_at  BIGINT,
    followup_due_at      BIGINT,
    autocomplete_at      BIGINT,
    escalation_at        BIGINT,
    verification_overdue BOOLEAN NOT NULL DEFAULT FALSE,
    followup_overdue     BOOLEAN NOT NULL DEFAULT FALSE,
    escalated            BOOLEAN NOT NULL DEFAULT FALSE,
    archive_reason       TEXT,
    duplicate_of         TEXT,
    rating_score         BIGINT,
    rating_comment       TEXT,
    reporter_user_id     TEXT,
    created_by           TEXT,
    version              BIGINT NOT NULL,
    -- Full-text search over title and body ('simple': no stemming, no stop words, like FTS5 unicode61).
    search               tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || body)) STORED
);
CREATE INDEX reports_status ON reports (status, submitted_at);
CREATE INDEX reports_agency_path ON reports (agency_path, status);
CREATE INDEX reports_submitted ON reports (submitted_at);
CREATE INDEX reports_category ON reports (category_id);
CREATE INDEX reports_reporter ON reports (reporter_user_id);
CREATE INDEX reports_search ON reports USING GIN (search);

-- Kept apart from reports so that erasing an identity never touches the report itself.
CREATE TABLE reporter_identities (
    report_id TEXT PRIMARY KEY REFERENCES reports (id),
    name      TEXT,
    phone     TEXT,
    email     TEXT
);

CREATE TABLE timeline (
    report_id   TEXT NOT NULL REFERENCES reports (id),
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
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

-- Timeline entries are immutable. The error is in class 23 (integrity constraint violation), as SQLite's
-- RAISE(ABORT) in a trigger is a constraint failure there.
CREATE FUNCTION timeline_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'timeline entries are immutable' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
    FOR EACH ROW EXECUTE FUNCTION timeline_immutable();
CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
    FOR EACH ROW EXECUTE FUNCTION timeline_immutable();
