-- Federation on PostgreSQL: the signed event log, ownership, the durable inbox and outbox, peers and keys.
-- Same tables, columns and indexes as migrations/sqlite/0002_federation.sql; integers are BIGINT, bytes BYTEA,
-- autoincrement keys BIGSERIAL. `origins.frozen` stays a 0/1 BIGINT as on SQLite (the code reads it as such).

-- Every event this node holds, its own and other origins', as the exact bytes received or signed.
-- `state`: 'applied', 'stored' (kept but not for this node to apply: another node's contribution, a stale
-- epoch), 'pending' (a contribution waiting for the owner's lifecycle), 'quarantined' (applying failed).
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    origin       TEXT NOT NULL,
    origin_seq   BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    report_id    TEXT NOT NULL,
    report_epoch BIGINT NOT NULL,
    authored_at  BIGINT NOT NULL,
    wire         BYTEA NOT NULL,
    received_at  BIGINT NOT NULL,
    state        TEXT NOT NULL,
    UNIQUE (origin, origin_seq)
);
CREATE INDEX events_report ON events (report_id, origin, origin_seq);
CREATE INDEX events_pending ON events (state) WHERE state = 'pending';

-- The accepted head of each origin's log (gapless), and whether the origin is frozen for equivocating.
CREATE TABLE origins (
    origin        TEXT PRIMARY KEY,
    head_seq      BIGINT NOT NULL,
    head_id       TEXT,
    frozen        BIGINT NOT NULL DEFAULT 0,
    frozen_reason TEXT,
    updated_at    BIGINT NOT NULL
);

-- Two valid events with one origin and sequence number: both kept, the origin frozen.
CREATE TABLE equivocations (
    origin      TEXT NOT NULL,
    origin_seq  BIGINT NOT NULL,
    first_id    TEXT NOT NULL,
    second_id   TEXT NOT NULL,
    second_wire BYTEA NOT NULL,
    detected_at BIGINT NOT NULL,
    PRIMARY KEY (origin, origin_seq, second_id)
);

-- Who owns each report now, at which epoch, and the id of its latest event (the next event's report_prev).
CREATE TABLE report_owner (
    report_id     TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    last_event_id TEXT
);

-- Verified events received from peers, waiting to be applied in origin order.
CREATE TABLE inbox (
    id          BIGSERIAL PRIMARY KEY,
    event_id    TEXT NOT NULL,
    origin      TEXT NOT NULL,
    origin_seq  BIGINT NOT NULL,
    sender      TEXT NOT NULL,
    wire        BYTEA NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX inbox_origin ON inbox (origin, origin_seq);

-- Answers to push transactions already processed, so that a retry gets the same answer.
CREATE TABLE push_txns (
    sender      TEXT NOT NULL,
    txn         TEXT NOT NULL,
    response    TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (sender, txn)
);

-- Events whose application failed; the origin's log goes on without them.
CREATE TABLE quarantine (
    event_id   TEXT PRIMARY KEY,
    origin     TEXT NOT NULL,
    origin_seq BIGINT NOT NULL,
    code       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         BIGINT NOT NULL
);

-- Events to send, per destination, in the order they were committed.
CREATE TABLE outbox (
    id          BIGSERIAL PRIMARY KEY,
    destination TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX outbox_destination ON outbox (destination, id);

-- Other nodes this node knows: enrolled by an operator or learned from the hub's directory.
CREATE TABLE peers (
    node_id          TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    base_url         TEXT NOT NULL,
    role             TEXT NOT NULL,
    region_codes     TEXT NOT NULL,
    enc_public       TEXT,
    push_cursor      BIGINT NOT NULL DEFAULT 0,
    last_success_at  BIGINT,
    last_attempt_at  BIGINT,
    last_error       TEXT,
    failures         BIGINT NOT NULL DEFAULT 0,
    rejected_total   BIGINT NOT NULL DEFAULT 0,
    added_at         BIGINT NOT NULL
);

-- Every node's event-signing keys with their validity by sequence number. Old keys stay forever.
CREATE TABLE node_keys (
    origin            TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    public_key        TEXT NOT NULL,
    enc_public        TEXT,
    valid_from_seq    BIGINT NOT NULL,
    retired_after_seq BIGINT,
    revoked_from_seq  BIGINT,
    PRIMARY KEY (origin, key_id)
);

-- Out-of-band blobs by sha256 (sealed reporter identities); erasable without touching any signature.
CREATE TABLE blobs (
    hash       TEXT PRIMARY KEY,
    report_id  TEXT,
    content    BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX blobs_report ON blobs (report_id);
