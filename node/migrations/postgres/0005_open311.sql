-- Open311 GeoReport v2: API keys of client apps (only the sha256 of a key is kept) and an index for the
-- servicerequestupdates feed, which reads timeline entries by time.

CREATE TABLE open311_keys (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    app_name   TEXT NOT NULL,
    contact    TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX timeline_at ON timeline (at);
