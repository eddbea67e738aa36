//! The SQL of the pre-aggregated statistics (migration 0013), the same on both backends: written with `?`
//! placeholders, numbered (`$1`...) for PostgreSQL by [`numbered`]. Reading a cell back into a [`Tally`]
//! is here too, so the column order can never differ between the city's SQLite and the hub's PostgreSQL.

use crate::stats::cells::{day_date, day_number};
use crate::stats::{path_upper, CellKey, CellQuery, Tally};

/// An argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// An integer.
    Int(i64),
    /// A text.
    Text(String),
}

/// A statement and its arguments.
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

/// The key columns, as selected (five values: four texts and the class).
const KEY: &str = "agency_id, agency_path, owner, province, CAST(class AS BIGINT)";
const GROUP: &str = "agency_id, agency_path, owner, province, class";

/// The counters of `stats_cell`, in the order [`set_counters`] reads them.
const COUNTERS: &[&str] = &[
    "received",
    "unverified",
    "on_hold",
    "dispositioned",
    "in_progress",
    "responded",
    "completed",
    "archived",
    "verified",
    "handled",
    "never_answered",
    "verify_on_time",
    "verify_late",
    "answer_on_time",
    "answer_late",
    "open_verify",
    "open_answer",
    "escalated",
    "reopened",
    "rated",
    "rating_sum",
    "satisfied",
];

/// How many counters a cell row has after its key.
pub(crate) const COUNTER_COUNT: usize = COUNTERS.len();

/// Puts the counters of a cell row (in [`COUNTERS`] order) into a tally.
pub(crate) fn set_counters(t: &mut Tally, v: &[i64]) {
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    t.received = get(0);
    t.unverified = get(1);
    t.on_hold = get(2);
    t.dispositioned = get(3);
    t.in_progress = get(4);
    t.responded = get(5);
    t.completed = get(6);
    t.archived = get(7);
    t.verified = get(8);
    t.handled = get(9);
    t.never_answered = get(10);
    t.verify_on_time = get(11);
    t.verify_late = get(12);
    t.answer_on_time = get(13);
    t.answer_late = get(14);
    t.open_verify = get(15);
    t.open_answer = get(16);
    t.escalated = get(17);
    t.reopened = get(18);
    t.rated = get(19);
    t.rating_sum = get(20);
    t.satisfied = get(21);
}

/// Builds a key from the five key values.
pub(crate) fn key(
    agency_id: String,
    agency_path: String,
    owner: String,
    province: String,
    class: i64,
) -> CellKey {
    CellKey {
        agency_id,
        agency_path,
        owner,
        province,
        class,
    }
}

/// The scope clauses (agency subtree, agency, public only, owners).
fn scope(q: &CellQuery, args: &mut Vec<Arg>) -> String {
    let mut s = String::new();
    if let Some(p) = &q.agency_path_prefix {
        s.push_str(" AND agency_path >= ? AND agency_path < ?");
        args.push(Arg::Text(p.clone()));
        args.push(Arg::Text(path_upper(p)));
    }
    if let Some(a) = &q.agency_id {
        s.push_str(" AND agency_id = ?");
        args.push(Arg::Text(a.clone()));
    }
    if q.public_only {
        s.push_str(" AND class = 0");
    }
    if let Some(owners) = &q.owners {
        let marks = vec!["?"; owners.len().max(1)].join(", ");
        s.push_str(" AND owner IN (");
        s.push_str(&marks);
        s.push(')');
        if owners.is_empty() {
            args.push(Arg::Text("\u{0}".into()));
        }
        args.extend(owners.iter().cloned().map(Arg::Text));
    }
    s
}

fn ranged(span: i64, lo: i64, hi: i64) -> Vec<Arg> {
    vec![Arg::Int(span), Arg::Int(lo), Arg::Int(hi)]
}

/// The cells of one range: key, then the counters.
pub(crate) fn cells(q: &CellQuery, (span, lo, hi): (i64, i64, i64)) -> Sql {
    let mut args = ranged(span, lo, hi);
    let scope = scope(q, &mut args);
    let sums = COUNTERS
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ");
    Sql {
        text: format!(
            "SELECT {KEY}, {sums} FROM stats_cell WHERE span = ? AND at >= ? AND at < ?{scope} GROUP BY {GROUP}"
        ),
        args,
    }
}

/// The working-day histograms of one range: key, metric (0 verification, 1 follow-up), working days, n.
pub(crate) fn spread(q: &CellQuery, (span, lo, hi): (i64, i64, i64)) -> Sql {
    let mut args = ranged(span, lo, hi);
    let scope = scope(q, &mut args);
    Sql {
        text: format!(
            "SELECT {KEY}, CAST(metric AS BIGINT), CAST(wd AS BIGINT), CAST(SUM(n) AS BIGINT) FROM stats_spread \
             WHERE span = ? AND at >= ? AND at < ?{scope} GROUP BY {GROUP}, metric, wd HAVING SUM(n) <> 0"
        ),
        args,
    }
}

/// The counts per category (0), kind (1) and channel (2) of one range: key, dim, value, n.
pub(crate) fn counts(q: &CellQuery, (span, lo, hi): (i64, i64, i64)) -> Sql {
    let mut args = ranged(span, lo, hi);
    let scope = scope(q, &mut args);
    Sql {
        text: format!(
            "SELECT {KEY}, CAST(dim AS BIGINT), value, CAST(SUM(n) AS BIGINT) FROM stats_count \
             WHERE span = ? AND at >= ? AND at < ?{scope} GROUP BY {GROUP}, dim, value HAVING SUM(n) <> 0"
        ),
        args,
    }
}

/// Reports received per day of the period: day number, n.
pub(crate) fn daily(q: &CellQuery) -> Sql {
    let mut args = ranged(0, day_number(q.from), day_number(q.to));
    let scope = scope(q, &mut args);
    Sql {
        text: format!(
            "SELECT CAST(at AS BIGINT), CAST(SUM(received) AS BIGINT) FROM stats_cell \
             WHERE span = ? AND at >= ? AND at < ?{scope} GROUP BY at"
        ),
        args,
    }
}

/// Open reports of the period whose clock started on or after `open_since`: key, kind (0 verification,
/// 1 follow-up), since (day number), n.
pub(crate) fn open(q: &CellQuery) -> Sql {
    let mut args = vec![
        Arg::Int(day_number(q.open_since)),
        Arg::Int(day_number(q.from)),
        Arg::Int(day_number(q.to)),
    ];
    let scope = scope(q, &mut args);
    Sql {
        text: format!(
            "SELECT {KEY}, CAST(kind AS BIGINT), CAST(since AS BIGINT), CAST(SUM(n) AS BIGINT) FROM stats_open \
             WHERE since >= ? AND day >= ? AND day < ?{scope} GROUP BY {GROUP}, kind, since HAVING SUM(n) <> 0"
        ),
        args,
    }
}

/// Accumulates the rows of the three cell queries.
#[derive(Default)]
pub(crate) struct CellsBuilder {
    cells: std::collections::HashMap<CellKey, Tally>,
    pub rows: crate::stats::CellRows,
}

impl CellsBuilder {
    /// A cell row's counters.
    pub fn counters(&mut self, k: CellKey, v: &[i64]) {
        let mut t = Tally::default();
        set_counters(&mut t, v);
        self.cells.entry(k).or_default().add(&t);
    }

    /// A histogram row.
    pub fn spread(&mut self, k: CellKey, metric: i64, wd: i64, n: i64) {
        let t = self.cells.entry(k).or_default();
        let h = if metric == 0 {
            &mut t.to_verify
        } else {
            &mut t.to_answer
        };
        *h.entry(u32::try_from(wd).unwrap_or(0)).or_insert(0) += n;
    }

    /// A count row.
    pub fn count(&mut self, k: CellKey, dim: i64, value: String, n: i64) {
        let t = self.cells.entry(k).or_default();
        let m = match dim {
            0 => &mut t.by_category,
            1 => &mut t.by_kind,
            _ => &mut t.by_channel,
        };
        *m.entry(value).or_insert(0) += n;
    }

    /// A daily row.
    pub fn day(&mut self, day: i64, n: i64) {
        if n != 0 {
            *self.rows.daily.entry(day_date(day)).or_insert(0) += n;
        }
    }

    /// An open row.
    pub fn open(&mut self, k: CellKey, kind: i64, since: i64, n: i64) {
        self.rows.open.push(crate::stats::OpenCell {
            key: k,
            answer: kind == 1,
            since: day_date(since),
            n,
        });
    }

    /// The rows, cells in key order (empty ones left out).
    pub fn finish(mut self) -> crate::stats::CellRows {
        let mut cells: Vec<_> = self
            .cells
            .into_iter()
            .filter(|(_, t)| t.received != 0)
            .map(|(key, tally)| crate::stats::Cell { key, tally })
            .collect();
        cells.sort_by(|a, b| a.key.cmp(&b.key));
        self.rows.cells = cells;
        self.rows
    }
}

/// The statements of a full rebuild after the working-day table and the zones were written: every derived
/// row from the reports, then every aggregate from the derived rows, set-wise (the aggregate triggers
/// stand still meanwhile).
pub(crate) const REBUILD: &[&str] = &[
    "DELETE FROM stats_report",
    "DELETE FROM stats_cell",
    "DELETE FROM stats_spread",
    "DELETE FROM stats_count",
    "DELETE FROM stats_open",
    "INSERT INTO stats_report (report_id, day, month, agency_id, agency_path, owner, province, class, status, \
     category, kind, channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating) \
     SELECT report_id, day, month, agency_id, agency_path, owner, province, class, status, category, kind, \
     channel, verified, verify_day, vwd, handled, fwd, escalated, reopened, rating FROM stats_report_src",
    "INSERT INTO stats_cell SELECT * FROM stats_cell_src",
    "INSERT INTO stats_spread SELECT * FROM stats_spread_src",
    "INSERT INTO stats_count SELECT * FROM stats_count_src",
    "INSERT INTO stats_open SELECT * FROM stats_open_src",
];

/// The fingerprint of what the derived rows were computed with.
pub(crate) fn fingerprint(spec: &crate::stats::CalendarSpec) -> String {
    let mut s = spec.holidays_key();
    s.push('|');
    for (owner, ms) in &spec.zones {
        s.push_str(owner);
        s.push('=');
        s.push_str(&ms.to_string());
        s.push(';');
    }
    s
}

/// `?` placeholders numbered `$1`, `$2`... (PostgreSQL).
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
    }

    #[test]
    fn every_counter_is_read() {
        let v: Vec<i64> = (1..=i64::try_from(COUNTER_COUNT).unwrap()).collect();
        let mut t = Tally::default();
        set_counters(&mut t, &v);
        assert_eq!((t.received, t.satisfied), (1, 22));
    }
}
