-- Handover of the reporter identity to a report's new owner, and officers' own contact (issues 11 and 13).

-- On the new owner of a transferred report: how far getting the reporter identity from the former owners has
-- come at the held epoch. No row at the held epoch means nothing was tried yet. `fetching`: asking (retried
-- with backoff); `confirming`: the identity is stored here, the former owners are told to erase theirs;
-- `done`: they did; `absent`: no former owner holds one (anonymous, or erased before it could travel).
CREATE TABLE identity_handover (
    report_id  TEXT PRIMARY KEY,
    epoch      INTEGER NOT NULL,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    last_error TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX identity_handover_next ON identity_handover (state, next_at);

-- Where an officer's own notices go (new disposition, deadline near, overdue), and whether they unsubscribed.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN notices_off INTEGER NOT NULL DEFAULT 0;

-- The agencies and SMS keywords of nodes whose log this node does not receive, learnt from the hub's
-- directory: which publication (the origin's `node.agencies` sequence number) was applied last.
CREATE TABLE directory_publications (
    origin     TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    applied_at INTEGER NOT NULL
);
