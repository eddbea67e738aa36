-- Notifications: the durable outbox of notices to reporters and officers, the worker's cursor in this
-- node's own event log, and reporters who unsubscribed. No address is ever stored here: a notice names the
-- report and the kind of recipient, and the address is read from the reporter identity (or the config) only
-- when the notice is sent.

-- Position of the notification worker in this node's own log (origin_seq of the last event it derived
-- notices from). One row per feed; today only 'events'.
CREATE TABLE notice_cursor (
    feed       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One notice per (event or deadline, channel, recipient): `dedup` makes deriving twice harmless.
-- `state`: 'queued', 'sending' (claimed by the worker, the send under way), 'retrying' (failed, waiting for
-- next_at), 'sent', 'failed' (permanent failure, reason in last_error), 'skipped' (nothing to send: no
-- address any more, unsubscribed).
CREATE TABLE notices (
    id         TEXT PRIMARY KEY,
    dedup      TEXT NOT NULL UNIQUE,
    report_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    channel    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    event_id   TEXT,
    entry_at   BIGINT,
    state      TEXT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at    BIGINT
);
CREATE INDEX notices_due ON notices (state, next_at);
CREATE INDEX notices_report ON notices (report_id);

-- Reporters who followed the unsubscribe link of a report's email notices.
CREATE TABLE notice_unsubscribes (
    report_id TEXT PRIMARY KEY,
    at        BIGINT NOT NULL
);
