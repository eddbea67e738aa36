-- Pre-aggregated statistics (issue 15): the figures of a province, of the nation and of the public page are
-- sums over days (or whole months) x agencies instead of scans of every report. Kept exact in the same
-- transaction as every change by triggers, whatever writes the report (intake, transitions, imports, the
-- hub's replicated snapshots, transfers, ownership changes, reports arriving late from federation):
--
--   reports, report_marks, report_owner --(refresh triggers)--> stats_report (one derived row per report)
--   stats_report --(insert/update/delete triggers: minus the old row, plus the new)--> stats_cell,
--   stats_spread, stats_count, stats_open
--
-- Working days need the calendar (holidays) and each owning node's zone, which SQL does not know: the node
-- writes them into stats_workdays and stats_zones at startup (storage `stats_calendar_sync`) and rebuilds
-- every derived row when they change. That rebuild is also the backfill of a database that had reports
-- before this migration: the fingerprint in stats_meta starts empty, so the first start fills everything
-- (in one transaction: interrupted, it starts again from scratch on the next start).

-- Key-value state: `calendar` (fingerprint of the calendar the derived rows were computed with), `paused`
-- (present only inside a rebuild: the aggregate triggers stand still while the rebuild sums set-wise).
CREATE TABLE stats_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Working-day ordinal of each date (days since 1970-01-01): the working days from 1990-01-01 up to and
-- including that date, so `WorkCalendar::working_days_between` is ordinal(end) - ordinal(start).
CREATE TABLE stats_workdays (
    day     INTEGER PRIMARY KEY,
    ordinal INTEGER NOT NULL
);

-- UTC offset of each owning node's zone, in milliseconds ('' is this node).
CREATE TABLE stats_zones (
    owner     TEXT PRIMARY KEY,
    offset_ms INTEGER NOT NULL
);

-- What one report contributes, computed in the zone and calendar of the node that owns it.
CREATE TABLE stats_report (
    report_id   TEXT PRIMARY KEY,
    day         INTEGER NOT NULL, -- local date of submission, days since 1970-01-01
    month       INTEGER NOT NULL, -- yyyymm of that date
    agency_id   TEXT NOT NULL,    -- '' none
    agency_path TEXT NOT NULL,    -- '' none
    owner       TEXT NOT NULL,    -- '' this node
    province    TEXT NOT NULL,    -- first segment of the region code, '' none
    class       INTEGER NOT NULL, -- 0 public, 1 confidential, 2 archived
    status      TEXT NOT NULL,
    category    TEXT NOT NULL,    -- 'none' without one
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    verified    INTEGER NOT NULL,
    verify_day  INTEGER,          -- local date of the first verification
    vwd         INTEGER,          -- working days submission -> first verification
    handled     INTEGER NOT NULL,
    fwd         INTEGER,          -- working days first verification -> first follow-up
    escalated   INTEGER NOT NULL,
    reopened    INTEGER NOT NULL,
    rating      INTEGER
);

-- The aggregates. span 0: `at` is a day (days since 1970-01-01); span 1: `at` is a month (yyyymm). Rows are
-- keyed by agency, owning node, province and class (public / confidential / archived), so every scope a
-- viewer can have (agency subtree, node, public only) is a filter on the key.
CREATE TABLE stats_cell (
    span INTEGER NOT NULL,
    at   INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    unverified INTEGER NOT NULL DEFAULT 0,
    on_hold INTEGER NOT NULL DEFAULT 0,
    dispositioned INTEGER NOT NULL DEFAULT 0,
    in_progress INTEGER NOT NULL DEFAULT 0,
    responded INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 0,
    handled INTEGER NOT NULL DEFAULT 0,
    never_answered INTEGER NOT NULL DEFAULT 0,
    verify_on_time INTEGER NOT NULL DEFAULT 0,
    verify_late INTEGER NOT NULL DEFAULT 0,
    answer_on_time INTEGER NOT NULL DEFAULT 0,
    answer_late INTEGER NOT NULL DEFAULT 0,
    open_verify INTEGER NOT NULL DEFAULT 0,
    open_answer INTEGER NOT NULL DEFAULT 0,
    escalated INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
    rated INTEGER NOT NULL DEFAULT 0,
    rating_sum INTEGER NOT NULL DEFAULT 0,
    satisfied INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (span, at, agency_id, agency_path, owner, province, class)
) WITHOUT ROWID;

CREATE TABLE stats_spread (
    span   INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    metric INTEGER NOT NULL,
    wd     INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (span, at, agency_id, agency_path, owner, province, class, metric, wd)
) WITHOUT ROWID;

CREATE TABLE stats_count (
    span  INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    dim   INTEGER NOT NULL,
    value TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (span, at, agency_id, agency_path, owner, province, class, dim, value)
) WITHOUT ROWID;

CREATE TABLE stats_open (
    kind  INTEGER NOT NULL,
    since INTEGER NOT NULL,
    day   INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (kind, since, day, agency_id, agency_path, owner, province, class)
) WITHOUT ROWID;

CREATE VIEW stats_report_src AS
SELECT b.report_id, b.day, CAST(strftime('%Y%m', b.day * 86400, 'unixepoch') AS INTEGER) AS month,
       b.agency_id, b.agency_path, b.owner, b.province, b.class, b.status, b.category, b.kind, b.channel,
       b.verified, b.verify_day,
       CASE WHEN b.verify_day IS NULL THEN NULL ELSE
           MAX(0, (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.verify_day)
                - (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.day)) END AS vwd,
       b.handled,
       CASE WHEN b.verify_day IS NULL OR b.answer_day IS NULL THEN NULL ELSE
           MAX(0, (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.answer_day)
                - (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.verify_day)) END AS fwd,
       b.escalated, b.reopened, b.rating
FROM (
    SELECT a.report_id, (a.submitted_at + a.off) / 86400000 AS day, a.agency_id, a.agency_path, a.owner,
           a.province, a.class, a.status, a.category, a.kind, a.channel, a.verified,
           (a.verified_at + a.off) / 86400000 AS verify_day, a.handled,
           (a.first_responded_at + a.off) / 86400000 AS answer_day, a.escalated, a.reopened, a.rating
    FROM (
        SELECT r.id AS report_id, r.submitted_at, r.verified_at, m.first_responded_at,
               COALESCE(zo.offset_ms, zl.offset_ms, 25200000) AS off,
               COALESCE(r.agency_id, '') AS agency_id, COALESCE(r.agency_path, '') AS agency_path,
               COALESCE(o.owner, '') AS owner,
               CASE WHEN r.region_code IS NULL THEN ''
                    WHEN instr(r.region_code, '.') > 0 THEN substr(r.region_code, 1, instr(r.region_code, '.') - 1)
                    ELSE r.region_code END AS province,
               CASE WHEN r.status = 'archived' THEN 2 WHEN r.confidential <> 0 THEN 1 ELSE 0 END AS class,
               r.status, COALESCE(r.category_id, 'none') AS category, r.kind, r.channel,
               (r.verified_at IS NOT NULL) AS verified,
               (r.status <> 'archived' AND (m.first_responded_at IS NOT NULL OR r.status = 'completed')) AS handled,
               (r.escalated <> 0) AS escalated, (COALESCE(m.reopened, 0) > 0) AS reopened, r.rating_score AS rating
        FROM reports r
        LEFT JOIN report_marks m ON m.report_id = r.id
        LEFT JOIN report_owner o ON o.report_id = r.id
        LEFT JOIN stats_zones zo ON zo.owner = COALESCE(o.owner, '')
        LEFT JOIN stats_zones zl ON zl.owner = ''
    ) a
) b;

-- The aggregates recomputed set-wise from the derived rows (the rebuild).
CREATE VIEW stats_cell_src AS
SELECT s.span, CASE s.span WHEN 0 THEN x.day ELSE x.month END AS at, x.agency_id, x.agency_path, x.owner, x.province, x.class,
       SUM(1) AS received,
       SUM((x.status = 'submitted')) AS unverified,
       SUM((x.status = 'on_hold')) AS on_hold,
       SUM((x.status = 'verified')) AS dispositioned,
       SUM((x.status = 'in_progress')) AS in_progress,
       SUM((x.status = 'responded')) AS responded,
       SUM((x.status = 'completed')) AS completed,
       SUM((x.status = 'archived')) AS archived,
       SUM((x.verified = 1)) AS verified,
       SUM((x.handled = 1)) AS handled,
       SUM((x.status <> 'archived' AND x.handled = 0)) AS never_answered,
       SUM((x.vwd IS NOT NULL AND x.vwd <= 3)) AS verify_on_time,
       SUM((x.vwd IS NOT NULL AND x.vwd > 3)) AS verify_late,
       SUM((x.fwd IS NOT NULL AND x.fwd <= 5)) AS answer_on_time,
       SUM((x.fwd IS NOT NULL AND x.fwd > 5)) AS answer_late,
       SUM((x.verified = 0 AND x.status <> 'archived')) AS open_verify,
       SUM((x.verified = 1 AND x.fwd IS NULL AND x.status <> 'archived')) AS open_answer,
       SUM((x.escalated = 1)) AS escalated,
       SUM((x.reopened = 1)) AS reopened,
       SUM((x.rating IS NOT NULL)) AS rated,
       SUM(COALESCE(x.rating, 0)) AS rating_sum,
       SUM((x.rating IS NOT NULL AND x.rating >= 4)) AS satisfied
FROM stats_report x CROSS JOIN (SELECT 0 AS span UNION ALL SELECT 1) s
GROUP BY s.span, CASE s.span WHEN 0 THEN x.day ELSE x.month END, x.agency_id, x.agency_path, x.owner, x.province, x.class;

CREATE VIEW stats_spread_src AS
SELECT u.span, u.at, u.agency_id, u.agency_path, u.owner, u.province, u.class, u.metric, u.wd, COUNT(*) AS n FROM (
    SELECT s.span, CASE s.span WHEN 0 THEN x.day ELSE x.month END AS at, x.agency_id, x.agency_path, x.owner, x.province, x.class, 0 AS metric, x.vwd AS wd FROM stats_report x CROSS JOIN (SELECT 0 AS span UNION ALL SELECT 1) s WHERE x.vwd IS NOT NULL
    UNION ALL
    SELECT s.span, CASE s.span WHEN 0 THEN x.day ELSE x.month END AS at, x.agency_id, x.agency_path, x.owner, x.province, x.class, 1 AS metric, x.fwd AS wd FROM stats_report x CROSS JOIN (SELECT 0 AS span UNION ALL SELECT 1) s WHERE x.fwd IS NOT NULL
) u
GROUP BY u.span, u.at, u.agency_id, u.agency_path, u.owner, u.province, u.class, u.metric, u.wd;

CREATE VIEW stats_count_src AS
SELECT u.span, u.at, u.agency_id, u.agency_path, u.owner, u.province, u.class, u.dim, u.value, COUNT(*) AS n FROM (
    SELECT s.span, CASE s.span WHEN 0 THEN x.day ELSE x.month END AS at, x.agency_id, x.agency_path, x.owner, x.province, x.class, 0 AS dim, x.category AS value FROM stats_report x CROSS JOIN (SELECT 0 AS span UNION ALL SELECT 1) s
    UNION ALL
    SELECT s.span, CASE s.span WHEN 0 THEN x.day ELSE x.month END AS at, x.agency_id, x.agency_path, x.owner, x.province, x.class, 1 AS dim, x.kind AS value FROM stats_report x CROSS JOIN (SELECT 0 AS span UNION ALL SELECT 1) s
    UNION ALL
    SELECT s.span, CASE s.span WHEN 0 THEN x.day ELSE x.month END AS at, x.agency_id, x.agency_path, x.owner, x.province, x.class, 2 AS dim, x.channel AS value FROM stats_report x CROSS JOIN (SELECT 0 AS span UNION ALL SELECT 1) s
) u
GROUP BY u.span, u.at, u.agency_id, u.agency_path, u.owner, u.province, u.class, u.dim, u.value;

CREATE VIEW stats_open_src AS
SELECT u.kind, u.since, u.day, u.agency_id, u.agency_path, u.owner, u.province, u.class, COUNT(*) AS n FROM (
    SELECT 0 AS kind, x.day AS since, x.day, x.agency_id, x.agency_path, x.owner, x.province, x.class FROM stats_report x
    WHERE x.verified = 0 AND x.status <> 'archived'
    UNION ALL
    SELECT 1, x.verify_day, x.day, x.agency_id, x.agency_path, x.owner, x.province, x.class FROM stats_report x
    WHERE x.verified = 1 AND x.fwd IS NULL AND x.status <> 'archived'
) u
GROUP BY u.kind, u.since, u.day, u.agency_id, u.agency_path, u.owner, u.province, u.class;


-- Refresh one report's derived row (an upsert that leaves an unchanged row alone).
CREATE TRIGGER stats_refresh_reports_insert AFTER INSERT ON reports
BEGIN
    INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = new.id
    ON CONFLICT (report_id) DO UPDATE SET
        day = excluded.day,
        month = excluded.month,
        agency_id = excluded.agency_id,
        agency_path = excluded.agency_path,
        owner = excluded.owner,
        province = excluded.province,
        class = excluded.class,
        status = excluded.status,
        category = excluded.category,
        kind = excluded.kind,
        channel = excluded.channel,
        verified = excluded.verified,
        verify_day = excluded.verify_day,
        vwd = excluded.vwd,
        handled = excluded.handled,
        fwd = excluded.fwd,
        escalated = excluded.escalated,
        reopened = excluded.reopened,
        rating = excluded.rating
WHERE stats_report.day IS NOT excluded.day OR stats_report.month IS NOT excluded.month OR stats_report.agency_id IS NOT excluded.agency_id OR stats_report.agency_path IS NOT excluded.agency_path OR stats_report.owner IS NOT excluded.owner OR stats_report.province IS NOT excluded.province OR stats_report.class IS NOT excluded.class OR stats_report.status IS NOT excluded.status OR stats_report.category IS NOT excluded.category OR stats_report.kind IS NOT excluded.kind OR stats_report.channel IS NOT excluded.channel OR stats_report.verified IS NOT excluded.verified OR stats_report.verify_day IS NOT excluded.verify_day OR stats_report.vwd IS NOT excluded.vwd OR stats_report.handled IS NOT excluded.handled OR stats_report.fwd IS NOT excluded.fwd OR stats_report.escalated IS NOT excluded.escalated OR stats_report.reopened IS NOT excluded.reopened OR stats_report.rating IS NOT excluded.rating;
END;

CREATE TRIGGER stats_refresh_reports_update AFTER UPDATE OF agency_id, agency_path, region_code, confidential, status, category_id, kind, channel, submitted_at, verified_at, escalated, rating_score ON reports
BEGIN
    INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = new.id
    ON CONFLICT (report_id) DO UPDATE SET
        day = excluded.day,
        month = excluded.month,
        agency_id = excluded.agency_id,
        agency_path = excluded.agency_path,
        owner = excluded.owner,
        province = excluded.province,
        class = excluded.class,
        status = excluded.status,
        category = excluded.category,
        kind = excluded.kind,
        channel = excluded.channel,
        verified = excluded.verified,
        verify_day = excluded.verify_day,
        vwd = excluded.vwd,
        handled = excluded.handled,
        fwd = excluded.fwd,
        escalated = excluded.escalated,
        reopened = excluded.reopened,
        rating = excluded.rating
WHERE stats_report.day IS NOT excluded.day OR stats_report.month IS NOT excluded.month OR stats_report.agency_id IS NOT excluded.agency_id OR stats_report.agency_path IS NOT excluded.agency_path OR stats_report.owner IS NOT excluded.owner OR stats_report.province IS NOT excluded.province OR stats_report.class IS NOT excluded.class OR stats_report.status IS NOT excluded.status OR stats_report.category IS NOT excluded.category OR stats_report.kind IS NOT excluded.kind OR stats_report.channel IS NOT excluded.channel OR stats_report.verified IS NOT excluded.verified OR stats_report.verify_day IS NOT excluded.verify_day OR stats_report.vwd IS NOT excluded.vwd OR stats_report.handled IS NOT excluded.handled OR stats_report.fwd IS NOT excluded.fwd OR stats_report.escalated IS NOT excluded.escalated OR stats_report.reopened IS NOT excluded.reopened OR stats_report.rating IS NOT excluded.rating;
END;

CREATE TRIGGER stats_refresh_marks_insert AFTER INSERT ON report_marks
BEGIN
    INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = new.report_id
    ON CONFLICT (report_id) DO UPDATE SET
        day = excluded.day,
        month = excluded.month,
        agency_id = excluded.agency_id,
        agency_path = excluded.agency_path,
        owner = excluded.owner,
        province = excluded.province,
        class = excluded.class,
        status = excluded.status,
        category = excluded.category,
        kind = excluded.kind,
        channel = excluded.channel,
        verified = excluded.verified,
        verify_day = excluded.verify_day,
        vwd = excluded.vwd,
        handled = excluded.handled,
        fwd = excluded.fwd,
        escalated = excluded.escalated,
        reopened = excluded.reopened,
        rating = excluded.rating
WHERE stats_report.day IS NOT excluded.day OR stats_report.month IS NOT excluded.month OR stats_report.agency_id IS NOT excluded.agency_id OR stats_report.agency_path IS NOT excluded.agency_path OR stats_report.owner IS NOT excluded.owner OR stats_report.province IS NOT excluded.province OR stats_report.class IS NOT excluded.class OR stats_report.status IS NOT excluded.status OR stats_report.category IS NOT excluded.category OR stats_report.kind IS NOT excluded.kind OR stats_report.channel IS NOT excluded.channel OR stats_report.verified IS NOT excluded.verified OR stats_report.verify_day IS NOT excluded.verify_day OR stats_report.vwd IS NOT excluded.vwd OR stats_report.handled IS NOT excluded.handled OR stats_report.fwd IS NOT excluded.fwd OR stats_report.escalated IS NOT excluded.escalated OR stats_report.reopened IS NOT excluded.reopened OR stats_report.rating IS NOT excluded.rating;
END;

CREATE TRIGGER stats_refresh_marks_update AFTER UPDATE ON report_marks
BEGIN
    INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = new.report_id
    ON CONFLICT (report_id) DO UPDATE SET
        day = excluded.day,
        month = excluded.month,
        agency_id = excluded.agency_id,
        agency_path = excluded.agency_path,
        owner = excluded.owner,
        province = excluded.province,
        class = excluded.class,
        status = excluded.status,
        category = excluded.category,
        kind = excluded.kind,
        channel = excluded.channel,
        verified = excluded.verified,
        verify_day = excluded.verify_day,
        vwd = excluded.vwd,
        handled = excluded.handled,
        fwd = excluded.fwd,
        escalated = excluded.escalated,
        reopened = excluded.reopened,
        rating = excluded.rating
WHERE stats_report.day IS NOT excluded.day OR stats_report.month IS NOT excluded.month OR stats_report.agency_id IS NOT excluded.agency_id OR stats_report.agency_path IS NOT excluded.agency_path OR stats_report.owner IS NOT excluded.owner OR stats_report.province IS NOT excluded.province OR stats_report.class IS NOT excluded.class OR stats_report.status IS NOT excluded.status OR stats_report.category IS NOT excluded.category OR stats_report.kind IS NOT excluded.kind OR stats_report.channel IS NOT excluded.channel OR stats_report.verified IS NOT excluded.verified OR stats_report.verify_day IS NOT excluded.verify_day OR stats_report.vwd IS NOT excluded.vwd OR stats_report.handled IS NOT excluded.handled OR stats_report.fwd IS NOT excluded.fwd OR stats_report.escalated IS NOT excluded.escalated OR stats_report.reopened IS NOT excluded.reopened OR stats_report.rating IS NOT excluded.rating;
END;

CREATE TRIGGER stats_refresh_owner_insert AFTER INSERT ON report_owner
BEGIN
    INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = new.report_id
    ON CONFLICT (report_id) DO UPDATE SET
        day = excluded.day,
        month = excluded.month,
        agency_id = excluded.agency_id,
        agency_path = excluded.agency_path,
        owner = excluded.owner,
        province = excluded.province,
        class = excluded.class,
        status = excluded.status,
        category = excluded.category,
        kind = excluded.kind,
        channel = excluded.channel,
        verified = excluded.verified,
        verify_day = excluded.verify_day,
        vwd = excluded.vwd,
        handled = excluded.handled,
        fwd = excluded.fwd,
        escalated = excluded.escalated,
        reopened = excluded.reopened,
        rating = excluded.rating
WHERE stats_report.day IS NOT excluded.day OR stats_report.month IS NOT excluded.month OR stats_report.agency_id IS NOT excluded.agency_id OR stats_report.agency_path IS NOT excluded.agency_path OR stats_report.owner IS NOT excluded.owner OR stats_report.province IS NOT excluded.province OR stats_report.class IS NOT excluded.class OR stats_report.status IS NOT excluded.status OR stats_report.category IS NOT excluded.category OR stats_report.kind IS NOT excluded.kind OR stats_report.channel IS NOT excluded.channel OR stats_report.verified IS NOT excluded.verified OR stats_report.verify_day IS NOT excluded.verify_day OR stats_report.vwd IS NOT excluded.vwd OR stats_report.handled IS NOT excluded.handled OR stats_report.fwd IS NOT excluded.fwd OR stats_report.escalated IS NOT excluded.escalated OR stats_report.reopened IS NOT excluded.reopened OR stats_report.rating IS NOT excluded.rating;
END;

CREATE TRIGGER stats_refresh_owner_update AFTER UPDATE OF owner ON report_owner
BEGIN
    INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = new.report_id
    ON CONFLICT (report_id) DO UPDATE SET
        day = excluded.day,
        month = excluded.month,
        agency_id = excluded.agency_id,
        agency_path = excluded.agency_path,
        owner = excluded.owner,
        province = excluded.province,
        class = excluded.class,
        status = excluded.status,
        category = excluded.category,
        kind = excluded.kind,
        channel = excluded.channel,
        verified = excluded.verified,
        verify_day = excluded.verify_day,
        vwd = excluded.vwd,
        handled = excluded.handled,
        fwd = excluded.fwd,
        escalated = excluded.escalated,
        reopened = excluded.reopened,
        rating = excluded.rating
WHERE stats_report.day IS NOT excluded.day OR stats_report.month IS NOT excluded.month OR stats_report.agency_id IS NOT excluded.agency_id OR stats_report.agency_path IS NOT excluded.agency_path OR stats_report.owner IS NOT excluded.owner OR stats_report.province IS NOT excluded.province OR stats_report.class IS NOT excluded.class OR stats_report.status IS NOT excluded.status OR stats_report.category IS NOT excluded.category OR stats_report.kind IS NOT excluded.kind OR stats_report.channel IS NOT excluded.channel OR stats_report.verified IS NOT excluded.verified OR stats_report.verify_day IS NOT excluded.verify_day OR stats_report.vwd IS NOT excluded.vwd OR stats_report.handled IS NOT excluded.handled OR stats_report.fwd IS NOT excluded.fwd OR stats_report.escalated IS NOT excluded.escalated OR stats_report.reopened IS NOT excluded.reopened OR stats_report.rating IS NOT excluded.rating;
END;

CREATE TRIGGER stats_refresh_owner_delete AFTER DELETE ON report_owner
BEGIN
    INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = old.report_id
    ON CONFLICT (report_id) DO UPDATE SET
        day = excluded.day,
        month = excluded.month,
        agency_id = excluded.agency_id,
        agency_path = excluded.agency_path,
        owner = excluded.owner,
        province = excluded.province,
        class = excluded.class,
        status = excluded.status,
        category = excluded.category,
        kind = excluded.kind,
        channel = excluded.channel,
        verified = excluded.verified,
        verify_day = excluded.verify_day,
        vwd = excluded.vwd,
        handled = excluded.handled,
        fwd = excluded.fwd,
        escalated = excluded.escalated,
        reopened = excluded.reopened,
        rating = excluded.rating
WHERE stats_report.day IS NOT excluded.day OR stats_report.month IS NOT excluded.month OR stats_report.agency_id IS NOT excluded.agency_id OR stats_report.agency_path IS NOT excluded.agency_path OR stats_report.owner IS NOT excluded.owner OR stats_report.province IS NOT excluded.province OR stats_report.class IS NOT excluded.class OR stats_report.status IS NOT excluded.status OR stats_report.category IS NOT excluded.category OR stats_report.kind IS NOT excluded.kind OR stats_report.channel IS NOT excluded.channel OR stats_report.verified IS NOT excluded.verified OR stats_report.verify_day IS NOT excluded.verify_day OR stats_report.vwd IS NOT excluded.vwd OR stats_report.handled IS NOT excluded.handled OR stats_report.fwd IS NOT excluded.fwd OR stats_report.escalated IS NOT excluded.escalated OR stats_report.reopened IS NOT excluded.reopened OR stats_report.rating IS NOT excluded.rating;
END;

CREATE TRIGGER stats_refresh_reports_delete AFTER DELETE ON reports
BEGIN
    DELETE FROM stats_report WHERE report_id = old.id;
END;

-- The aggregates follow the derived rows: minus the old row, plus the new one.
CREATE TRIGGER stats_report_insert AFTER INSERT ON stats_report
WHEN NOT EXISTS (SELECT 1 FROM stats_meta WHERE key = 'paused')
BEGIN
    INSERT INTO stats_cell (span, at, agency_id, agency_path, owner, province, class, received, unverified, on_hold, dispositioned, in_progress, responded, completed, archived, verified, handled, never_answered, verify_on_time, verify_late, answer_on_time, answer_late, open_verify, open_answer, escalated, reopened, rated, rating_sum, satisfied)
    SELECT s.span, s.at, new.agency_id, new.agency_path, new.owner, new.province, new.class,
        1 * 1,
        1 * (new.status = 'submitted'),
        1 * (new.status = 'on_hold'),
        1 * (new.status = 'verified'),
        1 * (new.status = 'in_progress'),
        1 * (new.status = 'responded'),
        1 * (new.status = 'completed'),
        1 * (new.status = 'archived'),
        1 * (new.verified = 1),
        1 * (new.handled = 1),
        1 * (new.status <> 'archived' AND new.handled = 0),
        1 * (new.vwd IS NOT NULL AND new.vwd <= 3),
        1 * (new.vwd IS NOT NULL AND new.vwd > 3),
        1 * (new.fwd IS NOT NULL AND new.fwd <= 5),
        1 * (new.fwd IS NOT NULL AND new.fwd > 5),
        1 * (new.verified = 0 AND new.status <> 'archived'),
        1 * (new.verified = 1 AND new.fwd IS NULL AND new.status <> 'archived'),
        1 * (new.escalated = 1),
        1 * (new.reopened = 1),
        1 * (new.rating IS NOT NULL),
        1 * COALESCE(new.rating, 0),
        1 * (new.rating IS NOT NULL AND new.rating >= 4)
    FROM (SELECT 0 AS span, new.day AS at UNION ALL SELECT 1, new.month) s WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class) DO UPDATE SET
        received = stats_cell.received + excluded.received,
        unverified = stats_cell.unverified + excluded.unverified,
        on_hold = stats_cell.on_hold + excluded.on_hold,
        dispositioned = stats_cell.dispositioned + excluded.dispositioned,
        in_progress = stats_cell.in_progress + excluded.in_progress,
        responded = stats_cell.responded + excluded.responded,
        completed = stats_cell.completed + excluded.completed,
        archived = stats_cell.archived + excluded.archived,
        verified = stats_cell.verified + excluded.verified,
        handled = stats_cell.handled + excluded.handled,
        never_answered = stats_cell.never_answered + excluded.never_answered,
        verify_on_time = stats_cell.verify_on_time + excluded.verify_on_time,
        verify_late = stats_cell.verify_late + excluded.verify_late,
        answer_on_time = stats_cell.answer_on_time + excluded.answer_on_time,
        answer_late = stats_cell.answer_late + excluded.answer_late,
        open_verify = stats_cell.open_verify + excluded.open_verify,
        open_answer = stats_cell.open_answer + excluded.open_answer,
        escalated = stats_cell.escalated + excluded.escalated,
        reopened = stats_cell.reopened + excluded.reopened,
        rated = stats_cell.rated + excluded.rated,
        rating_sum = stats_cell.rating_sum + excluded.rating_sum,
        satisfied = stats_cell.satisfied + excluded.satisfied;
    INSERT INTO stats_spread (span, at, agency_id, agency_path, owner, province, class, metric, wd, n)
    SELECT s.span, s.at, new.agency_id, new.agency_path, new.owner, new.province, new.class, w.metric, w.wd, 1
    FROM (SELECT 0 AS span, new.day AS at UNION ALL SELECT 1, new.month) s, (SELECT 0 AS metric, new.vwd AS wd UNION ALL SELECT 1, new.fwd) w WHERE w.wd IS NOT NULL
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, metric, wd) DO UPDATE SET n = stats_spread.n + excluded.n;
    INSERT INTO stats_count (span, at, agency_id, agency_path, owner, province, class, dim, value, n)
    SELECT s.span, s.at, new.agency_id, new.agency_path, new.owner, new.province, new.class, d.dim, d.value, 1
    FROM (SELECT 0 AS span, new.day AS at UNION ALL SELECT 1, new.month) s, (SELECT 0 AS dim, new.category AS value UNION ALL SELECT 1, new.kind UNION ALL SELECT 2, new.channel) d
    WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, dim, value) DO UPDATE SET n = stats_count.n + excluded.n;
    INSERT INTO stats_open (kind, since, day, agency_id, agency_path, owner, province, class, n)
    SELECT o.kind, o.since, new.day, new.agency_id, new.agency_path, new.owner, new.province, new.class, 1
    FROM (SELECT 0 AS kind, new.day AS since WHERE new.verified = 0 AND new.status <> 'archived'
          UNION ALL SELECT 1, new.verify_day WHERE new.verified = 1 AND new.fwd IS NULL AND new.status <> 'archived') o
    WHERE true
    ON CONFLICT (kind, since, day, agency_id, agency_path, owner, province, class) DO UPDATE SET n = stats_open.n + excluded.n;
END;

CREATE TRIGGER stats_report_delete AFTER DELETE ON stats_report
WHEN NOT EXISTS (SELECT 1 FROM stats_meta WHERE key = 'paused')
BEGIN
    INSERT INTO stats_cell (span, at, agency_id, agency_path, owner, province, class, received, unverified, on_hold, dispositioned, in_progress, responded, completed, archived, verified, handled, never_answered, verify_on_time, verify_late, answer_on_time, answer_late, open_verify, open_answer, escalated, reopened, rated, rating_sum, satisfied)
    SELECT s.span, s.at, old.agency_id, old.agency_path, old.owner, old.province, old.class,
        -1 * 1,
        -1 * (old.status = 'submitted'),
        -1 * (old.status = 'on_hold'),
        -1 * (old.status = 'verified'),
        -1 * (old.status = 'in_progress'),
        -1 * (old.status = 'responded'),
        -1 * (old.status = 'completed'),
        -1 * (old.status = 'archived'),
        -1 * (old.verified = 1),
        -1 * (old.handled = 1),
        -1 * (old.status <> 'archived' AND old.handled = 0),
        -1 * (old.vwd IS NOT NULL AND old.vwd <= 3),
        -1 * (old.vwd IS NOT NULL AND old.vwd > 3),
        -1 * (old.fwd IS NOT NULL AND old.fwd <= 5),
        -1 * (old.fwd IS NOT NULL AND old.fwd > 5),
        -1 * (old.verified = 0 AND old.status <> 'archived'),
        -1 * (old.verified = 1 AND old.fwd IS NULL AND old.status <> 'archived'),
        -1 * (old.escalated = 1),
        -1 * (old.reopened = 1),
        -1 * (old.rating IS NOT NULL),
        -1 * COALESCE(old.rating, 0),
        -1 * (old.rating IS NOT NULL AND old.rating >= 4)
    FROM (SELECT 0 AS span, old.day AS at UNION ALL SELECT 1, old.month) s WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class) DO UPDATE SET
        received = stats_cell.received + excluded.received,
        unverified = stats_cell.unverified + excluded.unverified,
        on_hold = stats_cell.on_hold + excluded.on_hold,
        dispositioned = stats_cell.dispositioned + excluded.dispositioned,
        in_progress = stats_cell.in_progress + excluded.in_progress,
        responded = stats_cell.responded + excluded.responded,
        completed = stats_cell.completed + excluded.completed,
        archived = stats_cell.archived + excluded.archived,
        verified = stats_cell.verified + excluded.verified,
        handled = stats_cell.handled + excluded.handled,
        never_answered = stats_cell.never_answered + excluded.never_answered,
        verify_on_time = stats_cell.verify_on_time + excluded.verify_on_time,
        verify_late = stats_cell.verify_late + excluded.verify_late,
        answer_on_time = stats_cell.answer_on_time + excluded.answer_on_time,
        answer_late = stats_cell.answer_late + excluded.answer_late,
        open_verify = stats_cell.open_verify + excluded.open_verify,
        open_answer = stats_cell.open_answer + excluded.open_answer,
        escalated = stats_cell.escalated + excluded.escalated,
        reopened = stats_cell.reopened + excluded.reopened,
        rated = stats_cell.rated + excluded.rated,
        rating_sum = stats_cell.rating_sum + excluded.rating_sum,
        satisfied = stats_cell.satisfied + excluded.satisfied;
    INSERT INTO stats_spread (span, at, agency_id, agency_path, owner, province, class, metric, wd, n)
    SELECT s.span, s.at, old.agency_id, old.agency_path, old.owner, old.province, old.class, w.metric, w.wd, -1
    FROM (SELECT 0 AS span, old.day AS at UNION ALL SELECT 1, old.month) s, (SELECT 0 AS metric, old.vwd AS wd UNION ALL SELECT 1, old.fwd) w WHERE w.wd IS NOT NULL
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, metric, wd) DO UPDATE SET n = stats_spread.n + excluded.n;
    INSERT INTO stats_count (span, at, agency_id, agency_path, owner, province, class, dim, value, n)
    SELECT s.span, s.at, old.agency_id, old.agency_path, old.owner, old.province, old.class, d.dim, d.value, -1
    FROM (SELECT 0 AS span, old.day AS at UNION ALL SELECT 1, old.month) s, (SELECT 0 AS dim, old.category AS value UNION ALL SELECT 1, old.kind UNION ALL SELECT 2, old.channel) d
    WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, dim, value) DO UPDATE SET n = stats_count.n + excluded.n;
    INSERT INTO stats_open (kind, since, day, agency_id, agency_path, owner, province, class, n)
    SELECT o.kind, o.since, old.day, old.agency_id, old.agency_path, old.owner, old.province, old.class, -1
    FROM (SELECT 0 AS kind, old.day AS since WHERE old.verified = 0 AND old.status <> 'archived'
          UNION ALL SELECT 1, old.verify_day WHERE old.verified = 1 AND old.fwd IS NULL AND old.status <> 'archived') o
    WHERE true
    ON CONFLICT (kind, since, day, agency_id, agency_path, owner, province, class) DO UPDATE SET n = stats_open.n + excluded.n;
    DELETE FROM stats_open WHERE n = 0 AND since IN (old.day, old.verify_day) AND day = old.day AND agency_id = old.agency_id AND agency_path = old.agency_path AND owner = old.owner AND province = old.province AND class = old.class;
END;

CREATE TRIGGER stats_report_update AFTER UPDATE ON stats_report
WHEN NOT EXISTS (SELECT 1 FROM stats_meta WHERE key = 'paused')
BEGIN
    INSERT INTO stats_cell (span, at, agency_id, agency_path, owner, province, class, received, unverified, on_hold, dispositioned, in_progress, responded, completed, archived, verified, handled, never_answered, verify_on_time, verify_late, answer_on_time, answer_late, open_verify, open_answer, escalated, reopened, rated, rating_sum, satisfied)
    SELECT s.span, s.at, old.agency_id, old.agency_path, old.owner, old.province, old.class,
        -1 * 1,
        -1 * (old.status = 'submitted'),
        -1 * (old.status = 'on_hold'),
        -1 * (old.status = 'verified'),
        -1 * (old.status = 'in_progress'),
        -1 * (old.status = 'responded'),
        -1 * (old.status = 'completed'),
        -1 * (old.status = 'archived'),
        -1 * (old.verified = 1),
        -1 * (old.handled = 1),
        -1 * (old.status <> 'archived' AND old.handled = 0),
        -1 * (old.vwd IS NOT NULL AND old.vwd <= 3),
        -1 * (old.vwd IS NOT NULL AND old.vwd > 3),
        -1 * (old.fwd IS NOT NULL AND old.fwd <= 5),
        -1 * (old.fwd IS NOT NULL AND old.fwd > 5),
        -1 * (old.verified = 0 AND old.status <> 'archived'),
        -1 * (old.verified = 1 AND old.fwd IS NULL AND old.status <> 'archived'),
        -1 * (old.escalated = 1),
        -1 * (old.reopened = 1),
        -1 * (old.rating IS NOT NULL),
        -1 * COALESCE(old.rating, 0),
        -1 * (old.rating IS NOT NULL AND old.rating >= 4)
    FROM (SELECT 0 AS span, old.day AS at UNION ALL SELECT 1, old.month) s WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class) DO UPDATE SET
        received = stats_cell.received + excluded.received,
        unverified = stats_cell.unverified + excluded.unverified,
        on_hold = stats_cell.on_hold + excluded.on_hold,
        dispositioned = stats_cell.dispositioned + excluded.dispositioned,
        in_progress = stats_cell.in_progress + excluded.in_progress,
        responded = stats_cell.responded + excluded.responded,
        completed = stats_cell.completed + excluded.completed,
        archived = stats_cell.archived + excluded.archived,
        verified = stats_cell.verified + excluded.verified,
        handled = stats_cell.handled + excluded.handled,
        never_answered = stats_cell.never_answered + excluded.never_answered,
        verify_on_time = stats_cell.verify_on_time + excluded.verify_on_time,
        verify_late = stats_cell.verify_late + excluded.verify_late,
        answer_on_time = stats_cell.answer_on_time + excluded.answer_on_time,
        answer_late = stats_cell.answer_late + excluded.answer_late,
        open_verify = stats_cell.open_verify + excluded.open_verify,
        open_answer = stats_cell.open_answer + excluded.open_answer,
        escalated = stats_cell.escalated + excluded.escalated,
        reopened = stats_cell.reopened + excluded.reopened,
        rated = stats_cell.rated + excluded.rated,
        rating_sum = stats_cell.rating_sum + excluded.rating_sum,
        satisfied = stats_cell.satisfied + excluded.satisfied;
    INSERT INTO stats_spread (span, at, agency_id, agency_path, owner, province, class, metric, wd, n)
    SELECT s.span, s.at, old.agency_id, old.agency_path, old.owner, old.province, old.class, w.metric, w.wd, -1
    FROM (SELECT 0 AS span, old.day AS at UNION ALL SELECT 1, old.month) s, (SELECT 0 AS metric, old.vwd AS wd UNION ALL SELECT 1, old.fwd) w WHERE w.wd IS NOT NULL
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, metric, wd) DO UPDATE SET n = stats_spread.n + excluded.n;
    INSERT INTO stats_count (span, at, agency_id, agency_path, owner, province, class, dim, value, n)
    SELECT s.span, s.at, old.agency_id, old.agency_path, old.owner, old.province, old.class, d.dim, d.value, -1
    FROM (SELECT 0 AS span, old.day AS at UNION ALL SELECT 1, old.month) s, (SELECT 0 AS dim, old.category AS value UNION ALL SELECT 1, old.kind UNION ALL SELECT 2, old.channel) d
    WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, dim, value) DO UPDATE SET n = stats_count.n + excluded.n;
    INSERT INTO stats_open (kind, since, day, agency_id, agency_path, owner, province, class, n)
    SELECT o.kind, o.since, old.day, old.agency_id, old.agency_path, old.owner, old.province, old.class, -1
    FROM (SELECT 0 AS kind, old.day AS since WHERE old.verified = 0 AND old.status <> 'archived'
          UNION ALL SELECT 1, old.verify_day WHERE old.verified = 1 AND old.fwd IS NULL AND old.status <> 'archived') o
    WHERE true
    ON CONFLICT (kind, since, day, agency_id, agency_path, owner, province, class) DO UPDATE SET n = stats_open.n + excluded.n;
    DELETE FROM stats_open WHERE n = 0 AND since IN (old.day, old.verify_day) AND day = old.day AND agency_id = old.agency_id AND agency_path = old.agency_path AND owner = old.owner AND province = old.province AND class = old.class;
    INSERT INTO stats_cell (span, at, agency_id, agency_path, owner, province, class, received, unverified, on_hold, dispositioned, in_progress, responded, completed, archived, verified, handled, never_answered, verify_on_time, verify_late, answer_on_time, answer_late, open_verify, open_answer, escalated, reopened, rated, rating_sum, satisfied)
    SELECT s.span, s.at, new.agency_id, new.agency_path, new.owner, new.province, new.class,
        1 * 1,
        1 * (new.status = 'submitted'),
        1 * (new.status = 'on_hold'),
        1 * (new.status = 'verified'),
        1 * (new.status = 'in_progress'),
        1 * (new.status = 'responded'),
        1 * (new.status = 'completed'),
        1 * (new.status = 'archived'),
        1 * (new.verified = 1),
        1 * (new.handled = 1),
        1 * (new.status <> 'archived' AND new.handled = 0),
        1 * (new.vwd IS NOT NULL AND new.vwd <= 3),
        1 * (new.vwd IS NOT NULL AND new.vwd > 3),
        1 * (new.fwd IS NOT NULL AND new.fwd <= 5),
        1 * (new.fwd IS NOT NULL AND new.fwd > 5),
        1 * (new.verified = 0 AND new.status <> 'archived'),
        1 * (new.verified = 1 AND new.fwd IS NULL AND new.status <> 'archived'),
        1 * (new.escalated = 1),
        1 * (new.reopened = 1),
        1 * (new.rating IS NOT NULL),
        1 * COALESCE(new.rating, 0),
        1 * (new.rating IS NOT NULL AND new.rating >= 4)
    FROM (SELECT 0 AS span, new.day AS at UNION ALL SELECT 1, new.month) s WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class) DO UPDATE SET
        received = stats_cell.received + excluded.received,
        unverified = stats_cell.unverified + excluded.unverified,
        on_hold = stats_cell.on_hold + excluded.on_hold,
        dispositioned = stats_cell.dispositioned + excluded.dispositioned,
        in_progress = stats_cell.in_progress + excluded.in_progress,
        responded = stats_cell.responded + excluded.responded,
        completed = stats_cell.completed + excluded.completed,
        archived = stats_cell.archived + excluded.archived,
        verified = stats_cell.verified + excluded.verified,
        handled = stats_cell.handled + excluded.handled,
        never_answered = stats_cell.never_answered + excluded.never_answered,
        verify_on_time = stats_cell.verify_on_time + excluded.verify_on_time,
        verify_late = stats_cell.verify_late + excluded.verify_late,
        answer_on_time = stats_cell.answer_on_time + excluded.answer_on_time,
        answer_late = stats_cell.answer_late + excluded.answer_late,
        open_verify = stats_cell.open_verify + excluded.open_verify,
        open_answer = stats_cell.open_answer + excluded.open_answer,
        escalated = stats_cell.escalated + excluded.escalated,
        reopened = stats_cell.reopened + excluded.reopened,
        rated = stats_cell.rated + excluded.rated,
        rating_sum = stats_cell.rating_sum + excluded.rating_sum,
        satisfied = stats_cell.satisfied + excluded.satisfied;
    INSERT INTO stats_spread (span, at, agency_id, agency_path, owner, province, class, metric, wd, n)
    SELECT s.span, s.at, new.agency_id, new.agency_path, new.owner, new.province, new.class, w.metric, w.wd, 1
    FROM (SELECT 0 AS span, new.day AS at UNION ALL SELECT 1, new.month) s, (SELECT 0 AS metric, new.vwd AS wd UNION ALL SELECT 1, new.fwd) w WHERE w.wd IS NOT NULL
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, metric, wd) DO UPDATE SET n = stats_spread.n + excluded.n;
    INSERT INTO stats_count (span, at, agency_id, agency_path, owner, province, class, dim, value, n)
    SELECT s.span, s.at, new.agency_id, new.agency_path, new.owner, new.province, new.class, d.dim, d.value, 1
    FROM (SELECT 0 AS span, new.day AS at UNION ALL SELECT 1, new.month) s, (SELECT 0 AS dim, new.category AS value UNION ALL SELECT 1, new.kind UNION ALL SELECT 2, new.channel) d
    WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, dim, value) DO UPDATE SET n = stats_count.n + excluded.n;
    INSERT INTO stats_open (kind, since, day, agency_id, agency_path, owner, province, class, n)
    SELECT o.kind, o.since, new.day, new.agency_id, new.agency_path, new.owner, new.province, new.class, 1
    FROM (SELECT 0 AS kind, new.day AS since WHERE new.verified = 0 AND new.status <> 'archived'
          UNION ALL SELECT 1, new.verify_day WHERE new.verified = 1 AND new.fwd IS NULL AND new.status <> 'archived') o
    WHERE true
    ON CONFLICT (kind, since, day, agency_id, agency_path, owner, province, class) DO UPDATE SET n = stats_open.n + excluded.n;
END;
