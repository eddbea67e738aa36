-- Leases of the workers that must run once per node when several lapor processes share one database
-- (the hub on PostgreSQL behind a load balancer): push to each peer, applier, contributions, transfers,
-- deadlines, recap, notifications. A holder renews its lease before `expires_at`; anyone may take a lease
-- whose `expires_at` has passed. Times are milliseconds (UTC) of the database's clock.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
