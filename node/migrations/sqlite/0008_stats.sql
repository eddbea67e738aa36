-- Statistics (issue 15). Per report, what the figures need and the report row does not keep: the first
-- follow-up (the row keeps only the last) and how often a reply reopened it. Triggers on `reports` keep it
-- in the same transaction as every change: local intake and transitions, imported histories and, at the
-- hub, every replicated snapshot (an upsert fires the update trigger).
CREATE TABLE report_marks (
    report_id          TEXT PRIMARY KEY,
    first_responded_at INTEGER,
    reopened           INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER report_marks_insert AFTER INSERT ON reports
BEGIN
    INSERT INTO report_marks (report_id, first_responded_at, reopened) VALUES (new.id, new.responded_at, 0)
    ON CONFLICT (report_id) DO UPDATE SET
        first_responded_at = COALESCE(report_marks.first_responded_at, excluded.first_responded_at);
END;

CREATE TRIGGER report_marks_update AFTER UPDATE OF responded_at, status ON reports
BEGIN
    INSERT INTO report_marks (report_id, first_responded_at, reopened)
    VALUES (new.id, new.responded_at,
            CASE WHEN old.status = 'responded' AND new.status = 'in_progress' THEN 1 ELSE 0 END)
    ON CONFLICT (report_id) DO UPDATE SET
        first_responded_at = COALESCE(report_marks.first_responded_at, excluded.first_responded_at),
        reopened = report_marks.reopened + excluded.reopened;
END;

-- Reports held before this migration: from their timelines.
INSERT INTO report_marks (report_id, first_responded_at, reopened)
SELECT r.id,
       (SELECT MIN(t.at) FROM timeline t WHERE t.report_id = r.id AND t.to_status = 'responded'),
       (SELECT COUNT(*) FROM timeline t
         WHERE t.report_id = r.id AND t.from_status = 'responded' AND t.to_status = 'in_progress')
FROM reports r WHERE true
ON CONFLICT (report_id) DO NOTHING;

-- One agency subtree over a period: a range on the path, then on the submission time.
CREATE INDEX reports_stats_path ON reports (agency_path, submitted_at);

-- Recaps generated on demand or by the monthly job, kept for download.
CREATE TABLE stats_recaps (
    period       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    format       TEXT NOT NULL,
    generated_at INTEGER NOT NULL,
    content      BLOB NOT NULL,
    PRIMARY KEY (period, scope, format)
);
