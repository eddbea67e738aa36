-- Routing and transfers: agencies hosted by other nodes, transfers of reports between nodes, and the signed
-- history of reports imported from other nodes (kept apart from the per-origin logs, which stay gapless).

-- NULL: an agency of this node. Otherwise the node that hosts it, learned from its `node.agencies` event.
ALTER TABLE agencies ADD COLUMN node_id TEXT;

-- One row per transfer, keyed by the id of the event that opened it (the owner's `transfer.offer`, or the
-- hub's `transfer.forwarded` when the hub moved the report itself). `epoch` is the epoch the transfer creates.
-- `state` only moves forward: offered < forwarded < accepted < committed | refused | expired.
CREATE TABLE transfers (
    offer_id    TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL,
    from_node   TEXT NOT NULL,
    to_node     TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    agency_id   TEXT,
    reason      TEXT NOT NULL,
    note        TEXT,
    state       TEXT NOT NULL,
    code        TEXT,
    expires_at  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX transfers_report ON transfers (report_id, state);
CREATE INDEX transfers_state ON transfers (state, expires_at);

-- Signed events of reports this node imported whole (a transfer's history, a tracking lookup at the hub).
CREATE TABLE report_history (
    event_id     TEXT PRIMARY KEY,
    report_id    TEXT NOT NULL,
    origin       TEXT NOT NULL,
    origin_seq   INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    report_epoch INTEGER NOT NULL,
    wire         BLOB NOT NULL,
    imported_at  INTEGER NOT NULL
);
CREATE INDEX report_history_report ON report_history (report_id, report_epoch, origin_seq);
