-- Statistics (issue 15). Same tables as migrations/sqlite/0008_stats.sql: the first follow-up and the
-- reopen count per report, kept by triggers on `reports` in the same transaction as every change.
CREATE TABLE report_marks (
    report_id          TEXT PRIMARY KEY,
    first_responded_at BIGINT,
    reopened           BIGINT NOT NULL DEFAULT 0
);

CREATE FUNCTION report_marks_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_marks (report_id, first_responded_at, reopened)
    VALUES (NEW.id, NEW.responded_at,
            CASE WHEN TG_OP = 'UPDATE' AND OLD.status = 'responded' AND NEW.status = 'in_progress'
                 THEN 1 ELSE 0 END)
    ON CONFLICT (report_id) DO UPDATE SET
        first_responded_at = COALESCE(report_marks.first_responded_at, EXCLUDED.first_responded_at),
        reopened = report_marks.reopened + EXCLUDED.reopened;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_marks_insert AFTER INSERT ON reports
    FOR EACH ROW EXECUTE FUNCTION report_marks_keep();
CREATE TRIGGER report_marks_update AFTER UPDATE OF responded_at, status ON reports
    FOR EACH ROW EXECUTE FUNCTION report_marks_keep();

INSERT INTO report_marks (report_id, first_responded_at, reopened)
SELECT r.id,
       (SELECT MIN(t.at) FROM timeline t WHERE t.report_id = r.id AND t.to_status = 'responded'),
       (SELECT COUNT(*) FROM timeline t
         WHERE t.report_id = r.id AND t.from_status = 'responded' AND t.to_status = 'in_progress')
FROM reports r
ON CONFLICT (report_id) DO NOTHING;

-- One agency subtree over a period: a byte-order range on the path (as on SQLite), then the time.
CREATE INDEX reports_stats_path ON reports ((agency_path COLLATE "C"), submitted_at);

CREATE TABLE stats_recaps (
    period       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    format       TEXT NOT NULL,
    generated_at BIGINT NOT NULL,
    content      BYTEA NOT NULL,
    PRIMARY KEY (period, scope, format)
);
