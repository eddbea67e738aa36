-- Pre-aggregated statistics (issue 15). Same tables and rules as migrations/sqlite/0013_stats_aggregates.sql,
-- which explains them: triggers keep one derived row per report (stats_report) from reports, report_marks
-- and report_owner, and the aggregates (stats_cell, stats_spread, stats_count, stats_open) from the derived
-- rows, in the same transaction as every change. The node fills stats_workdays and stats_zones and rebuilds
-- (the backfill) at startup whenever the calendar fingerprint in stats_meta differs; a rebuild runs with
-- `SET LOCAL lapor.stats_paused = '1'` so that the aggregate trigger stands still while it sums set-wise.

CREATE TABLE stats_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE stats_workdays (
    day     INTEGER PRIMARY KEY,
    ordinal INTEGER NOT NULL
);

CREATE TABLE stats_zones (
    owner     TEXT PRIMARY KEY,
    offset_ms BIGINT NOT NULL
);

CREATE TABLE stats_report (
    report_id   TEXT PRIMARY KEY,
    day         INTEGER NOT NULL,
    month       INTEGER NOT NULL,
    agency_id   TEXT NOT NULL,
    agency_path TEXT COLLATE "C" NOT NULL,
    owner       TEXT NOT NULL,
    province    TEXT NOT NULL,
    class       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    category    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    verified    INTEGER NOT NULL,
    verify_day  INTEGER,
    vwd         INTEGER,
    handled     INTEGER NOT NULL,
    fwd         INTEGER,
    escalated   INTEGER NOT NULL,
    reopened    INTEGER NOT NULL,
    rating      BIGINT
);

CREATE TABLE stats_cell (
    span INTEGER NOT NULL,
    at   INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT COLLATE "C" NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    unverified BIGINT NOT NULL DEFAULT 0,
    on_hold BIGINT NOT NULL DEFAULT 0,
    dispositioned BIGINT NOT NULL DEFAULT 0,
    in_progress BIGINT NOT NULL DEFAULT 0,
    responded BIGINT NOT NULL DEFAULT 0,
    completed BIGINT NOT NULL DEFAULT 0,
    archived BIGINT NOT NULL DEFAULT 0,
    verified BIGINT NOT NULL DEFAULT 0,
    handled BIGINT NOT NULL DEFAULT 0,
    never_answered BIGINT NOT NULL DEFAULT 0,
    verify_on_time BIGINT NOT NULL DEFAULT 0,
    verify_late BIGINT NOT NULL DEFAULT 0,
    answer_on_time BIGINT NOT NULL DEFAULT 0,
    answer_late BIGINT NOT NULL DEFAULT 0,
    open_verify BIGINT NOT NULL DEFAULT 0,
    open_answer BIGINT NOT NULL DEFAULT 0,
    escalated BIGINT NOT NULL DEFAULT 0,
    reopened BIGINT NOT NULL DEFAULT 0,
    rated BIGINT NOT NULL DEFAULT 0,
    rating_sum BIGINT NOT NULL DEFAULT 0,
    satisfied BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span, at, agency_id, agency_path, owner, province, class)
);

CREATE TABLE stats_spread (
    span   INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT COLLATE "C" NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    metric INTEGER NOT NULL,
    wd     INTEGER NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (span, at, agency_id, agency_path, owner, province, class, metric, wd)
);

CREATE TABLE stats_count (
    span  INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT COLLATE "C" NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    dim   INTEGER NOT NULL,
    value TEXT NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (span, at, agency_id, agency_path, owner, province, class, dim, value)
);

CREATE TABLE stats_open (
    kind  INTEGER NOT NULL,
    since INTEGER NOT NULL,
    day   INTEGER NOT NULL,
    agency_id TEXT NOT NULL,
    agency_path TEXT COLLATE "C" NOT NULL,
    owner TEXT NOT NULL,
    province TEXT NOT NULL,
    class INTEGER NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (kind, since, day, agency_id, agency_path, owner, province, class)
);

CREATE VIEW stats_report_src AS
SELECT b.report_id, b.day, to_char(DATE '1970-01-01' + b.day, 'YYYYMM')::int AS month,
       b.agency_id, b.agency_path, b.owner, b.province, b.class, b.status, b.category, b.kind, b.channel,
       b.verified, b.verify_day,
       CASE WHEN b.verify_day IS NULL THEN NULL ELSE
           GREATEST(0, (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.verify_day)
                     - (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.day)) END AS vwd,
       b.handled,
       CASE WHEN b.verify_day IS NULL OR b.answer_day IS NULL THEN NULL ELSE
           GREATEST(0, (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.answer_day)
                     - (SELECT w.ordinal FROM stats_workdays w WHERE w.day = b.verify_day)) END AS fwd,
       b.escalated, b.reopened, b.rating
FROM (
    SELECT a.report_id, ((a.submitted_at + a.off) / 86400000)::int AS day, a.agency_id, a.agency_path, a.owner,
           a.province, a.class, a.status, a.category, a.kind, a.channel, a.verified,
           ((a.verified_at + a.off) / 86400000)::int AS verify_day, a.handled,
           ((a.first_responded_at + a.off) / 86400000)::int AS answer_day, a.escalated, a.reopened, a.rating
    FROM (
        SELECT r.id AS report_id, r.submitted_at, r.verified_at, m.first_responded_at,
               COALESCE(zo.offset_ms, zl.offset_ms, 25200000) AS off,
               COALESCE(r.agency_id, '') AS agency_id, COALESCE(r.agency_path, '') AS agency_path,
               COALESCE(o.owner, '') AS owner,
               CASE WHEN r.region_code IS NULL THEN '' ELSE split_part(r.region_code, '.', 1) END AS province,
               CASE WHEN r.status = 'archived' THEN 2 WHEN r.confidential THEN 1 ELSE 0 END AS class,
               r.status, COALESCE(r.category_id, 'none') AS category, r.kind, r.channel,
               (r.verified_at IS NOT NULL)::int AS verified,
               (r.status <> 'archived' AND (m.first_responded_at IS NOT NULL OR r.status = 'completed'))::int AS handled,
               r.escalated::int AS escalated, (COALESCE(m.reopened, 0) > 0)::int AS reopened, r.rating_score AS rating
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
       SUM((x.status = 'submitted')::int) AS unverified,
       SUM((x.status = 'on_hold')::int) AS on_hold,
       SUM((x.status = 'verified')::int) AS dispositioned,
       SUM((x.status = 'in_progress')::int) AS in_progress,
       SUM((x.status = 'responded')::int) AS responded,
       SUM((x.status = 'completed')::int) AS completed,
       SUM((x.status = 'archived')::int) AS archived,
       SUM((x.verified = 1)::int) AS verified,
       SUM((x.handled = 1)::int) AS handled,
       SUM((x.status <> 'archived' AND x.handled = 0)::int) AS never_answered,
       SUM((x.vwd IS NOT NULL AND x.vwd <= 3)::int) AS verify_on_time,
       SUM((x.vwd IS NOT NULL AND x.vwd > 3)::int) AS verify_late,
       SUM((x.fwd IS NOT NULL AND x.fwd <= 5)::int) AS answer_on_time,
       SUM((x.fwd IS NOT NULL AND x.fwd > 5)::int) AS answer_late,
       SUM((x.verified = 0 AND x.status <> 'archived')::int) AS open_verify,
       SUM((x.verified = 1 AND x.fwd IS NULL AND x.status <> 'archived')::int) AS open_answer,
       SUM((x.escalated = 1)::int) AS escalated,
       SUM((x.reopened = 1)::int) AS reopened,
       SUM((x.rating IS NOT NULL)::int) AS rated,
       SUM(COALESCE(x.rating, 0)) AS rating_sum,
       SUM((x.rating IS NOT NULL AND x.rating >= 4)::int) AS satisfied
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
CREATE FUNCTION stats_refresh(rid TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_report (
        report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating)
    SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src WHERE report_id = rid
    ON CONFLICT (report_id) DO UPDATE SET
        day = EXCLUDED.day,
        month = EXCLUDED.month,
        agency_id = EXCLUDED.agency_id,
        agency_path = EXCLUDED.agency_path,
        owner = EXCLUDED.owner,
        province = EXCLUDED.province,
        class = EXCLUDED.class,
        status = EXCLUDED.status,
        category = EXCLUDED.category,
        kind = EXCLUDED.kind,
        channel = EXCLUDED.channel,
        verified = EXCLUDED.verified,
        verify_day = EXCLUDED.verify_day,
        vwd = EXCLUDED.vwd,
        handled = EXCLUDED.handled,
        fwd = EXCLUDED.fwd,
        escalated = EXCLUDED.escalated,
        reopened = EXCLUDED.reopened,
        rating = EXCLUDED.rating
    WHERE (stats_report.day, stats_report.month, stats_report.agency_id, stats_report.agency_path, stats_report.owner, stats_report.province, stats_report.class, stats_report.status, stats_report.category, stats_report.kind, stats_report.channel, stats_report.verified, stats_report.verify_day, stats_report.vwd, stats_report.handled, stats_report.fwd, stats_report.escalated, stats_report.reopened, stats_report.rating) IS DISTINCT FROM (EXCLUDED.day, EXCLUDED.month, EXCLUDED.agency_id, EXCLUDED.agency_path, EXCLUDED.owner, EXCLUDED.province, EXCLUDED.class, EXCLUDED.status, EXCLUDED.category, EXCLUDED.kind, EXCLUDED.channel, EXCLUDED.verified, EXCLUDED.verify_day, EXCLUDED.vwd, EXCLUDED.handled, EXCLUDED.fwd, EXCLUDED.escalated, EXCLUDED.reopened, EXCLUDED.rating);
END;
$$;

CREATE FUNCTION stats_refresh_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'reports' THEN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM stats_report WHERE report_id = OLD.id;
        ELSE
            PERFORM stats_refresh(NEW.id);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_refresh(OLD.report_id);
    ELSE
        PERFORM stats_refresh(NEW.report_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER stats_refresh_reports AFTER INSERT OR DELETE OR UPDATE OF agency_id, agency_path, region_code,
    confidential, status, category_id, kind, channel, submitted_at, verified_at, escalated, rating_score ON reports
    FOR EACH ROW EXECUTE FUNCTION stats_refresh_keep();
CREATE TRIGGER stats_refresh_marks AFTER INSERT OR UPDATE ON report_marks
    FOR EACH ROW EXECUTE FUNCTION stats_refresh_keep();
CREATE TRIGGER stats_refresh_owner AFTER INSERT OR DELETE OR UPDATE OF owner ON report_owner
    FOR EACH ROW EXECUTE FUNCTION stats_refresh_keep();

-- Add (sgn 1) or take away (sgn -1) what one derived row contributes to the aggregates.
CREATE FUNCTION stats_apply(x stats_report, sgn INTEGER) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_cell (span, at, agency_id, agency_path, owner, province, class, received, unverified, on_hold, dispositioned, in_progress, responded, completed, archived, verified, handled, never_answered, verify_on_time, verify_late, answer_on_time, answer_late, open_verify, open_answer, escalated, reopened, rated, rating_sum, satisfied)
    SELECT s.span, s.at, x.agency_id, x.agency_path, x.owner, x.province, x.class,
        sgn * 1,
        sgn * (x.status = 'submitted')::int,
        sgn * (x.status = 'on_hold')::int,
        sgn * (x.status = 'verified')::int,
        sgn * (x.status = 'in_progress')::int,
        sgn * (x.status = 'responded')::int,
        sgn * (x.status = 'completed')::int,
        sgn * (x.status = 'archived')::int,
        sgn * (x.verified = 1)::int,
        sgn * (x.handled = 1)::int,
        sgn * (x.status <> 'archived' AND x.handled = 0)::int,
        sgn * (x.vwd IS NOT NULL AND x.vwd <= 3)::int,
        sgn * (x.vwd IS NOT NULL AND x.vwd > 3)::int,
        sgn * (x.fwd IS NOT NULL AND x.fwd <= 5)::int,
        sgn * (x.fwd IS NOT NULL AND x.fwd > 5)::int,
        sgn * (x.verified = 0 AND x.status <> 'archived')::int,
        sgn * (x.verified = 1 AND x.fwd IS NULL AND x.status <> 'archived')::int,
        sgn * (x.escalated = 1)::int,
        sgn * (x.reopened = 1)::int,
        sgn * (x.rating IS NOT NULL)::int,
        sgn * COALESCE(x.rating, 0),
        sgn * (x.rating IS NOT NULL AND x.rating >= 4)::int
    FROM (SELECT 0 AS span, x.day AS at UNION ALL SELECT 1, x.month) s WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class) DO UPDATE SET
        received = stats_cell.received + EXCLUDED.received,
        unverified = stats_cell.unverified + EXCLUDED.unverified,
        on_hold = stats_cell.on_hold + EXCLUDED.on_hold,
        dispositioned = stats_cell.dispositioned + EXCLUDED.dispositioned,
        in_progress = stats_cell.in_progress + EXCLUDED.in_progress,
        responded = stats_cell.responded + EXCLUDED.responded,
        completed = stats_cell.completed + EXCLUDED.completed,
        archived = stats_cell.archived + EXCLUDED.archived,
        verified = stats_cell.verified + EXCLUDED.verified,
        handled = stats_cell.handled + EXCLUDED.handled,
        never_answered = stats_cell.never_answered + EXCLUDED.never_answered,
        verify_on_time = stats_cell.verify_on_time + EXCLUDED.verify_on_time,
        verify_late = stats_cell.verify_late + EXCLUDED.verify_late,
        answer_on_time = stats_cell.answer_on_time + EXCLUDED.answer_on_time,
        answer_late = stats_cell.answer_late + EXCLUDED.answer_late,
        open_verify = stats_cell.open_verify + EXCLUDED.open_verify,
        open_answer = stats_cell.open_answer + EXCLUDED.open_answer,
        escalated = stats_cell.escalated + EXCLUDED.escalated,
        reopened = stats_cell.reopened + EXCLUDED.reopened,
        rated = stats_cell.rated + EXCLUDED.rated,
        rating_sum = stats_cell.rating_sum + EXCLUDED.rating_sum,
        satisfied = stats_cell.satisfied + EXCLUDED.satisfied;
    INSERT INTO stats_spread (span, at, agency_id, agency_path, owner, province, class, metric, wd, n)
    SELECT s.span, s.at, x.agency_id, x.agency_path, x.owner, x.province, x.class, w.metric, w.wd, sgn
    FROM (SELECT 0 AS span, x.day AS at UNION ALL SELECT 1, x.month) s, (SELECT 0 AS metric, x.vwd AS wd UNION ALL SELECT 1, x.fwd) w WHERE w.wd IS NOT NULL
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, metric, wd) DO UPDATE SET n = stats_spread.n + EXCLUDED.n;
    INSERT INTO stats_count (span, at, agency_id, agency_path, owner, province, class, dim, value, n)
    SELECT s.span, s.at, x.agency_id, x.agency_path, x.owner, x.province, x.class, d.dim, d.value, sgn
    FROM (SELECT 0 AS span, x.day AS at UNION ALL SELECT 1, x.month) s, (SELECT 0 AS dim, x.category AS value UNION ALL SELECT 1, x.kind UNION ALL SELECT 2, x.channel) d
    WHERE true
    ON CONFLICT (span, at, agency_id, agency_path, owner, province, class, dim, value) DO UPDATE SET n = stats_count.n + EXCLUDED.n;
    INSERT INTO stats_open (kind, since, day, agency_id, agency_path, owner, province, class, n)
    SELECT o.kind, o.since, x.day, x.agency_id, x.agency_path, x.owner, x.province, x.class, sgn
    FROM (SELECT 0 AS kind, x.day AS since WHERE x.verified = 0 AND x.status <> 'archived'
          UNION ALL SELECT 1, x.verify_day WHERE x.verified = 1 AND x.fwd IS NULL AND x.status <> 'archived') o
    WHERE true
    ON CONFLICT (kind, since, day, agency_id, agency_path, owner, province, class) DO UPDATE SET n = stats_open.n + EXCLUDED.n;
    IF sgn < 0 THEN DELETE FROM stats_open WHERE n = 0 AND since IN (x.day, x.verify_day) AND day = x.day AND agency_id = x.agency_id AND agency_path = x.agency_path AND owner = x.owner AND province = x.province AND class = x.class; END IF;
END;
$$;

CREATE FUNCTION stats_report_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('lapor.stats_paused', true) = '1' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM stats_apply(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER stats_report_keep AFTER INSERT OR UPDATE OR DELETE ON stats_report
    FOR EACH ROW EXECUTE FUNCTION stats_report_keep();
