//! `lapor bench stats --reports N`: loads N reports with realistic timelines into a scratch hub database (ten
//! origin nodes, ten provinces of fifty agencies each, a year of submissions; verification after 0-6 days,
//! follow-ups, completions, ratings, archives, reopenings) in bulk, through the same `reports` table and
//! triggers every write uses, then times the statistics the surfaces ask for: one agency's dashboard (a
//! month and a year), a province's dashboard, the national monthly recap and the public statistics page,
//! each beside the 50 ms target.

// Coordinates, SQL placeholders and generator draws read best as single letters.
#![allow(clippy::many_single_char_names)]

use std::time::Instant;

use ed25519_dalek::SigningKey;

use super::{drop_scratch, scratch};
use crate::app::{App, Viewer};
use crate::domain::{AgencyRecord, Millis, UserRef};
use crate::stats::Period;

const DAY: Millis = 86_400_000;
const PROVINCES: usize = 10;
const PER_PROVINCE: usize = 50;
const NODES: usize = 10;
const TARGET_MS: f64 = 50.0;
const BATCH: usize = 5000;

/// A tiny deterministic generator (xorshift), so that every run loads the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One synthetic report row.
struct Row {
    id: String,
    code: String,
    category: String,
    agency: Option<(String, String)>,
    region: String,
    confidential: bool,
    status: &'static str,
    submitted: Millis,
    verified: Option<Millis>,
    responded: Option<Millis>,
    closed: Option<Millis>,
    rating: Option<i64>,
    owner: String,
}

fn make_row(i: usize, rng: &mut Rng, now: Millis) -> Row {
    let p = rng.below(PROVINCES as u64) as usize;
    let a = rng.below(PER_PROVINCE as u64) as usize;
    let submitted = now - 365 * DAY + (rng.below(365 * DAY as u64) as Millis);
    let age = now - submitted;
    let mut status = "submitted";
    let (mut verified, mut responded, mut closed, mut rating) = (None, None, None, None);
    let mut agency = None;
    if rng.chance(4) {
        status = "archived";
        closed = Some(submitted + DAY);
    } else {
        let v = submitted + (rng.below(7) as Millis) * DAY + 3_600_000;
        if v < now && !rng.chance(3) {
            verified = Some(v);
            status = "verified";
            agency = Some((format!("p{p}-a{a}"), format!("/p{p}/p{p}-a{a}/")));
            let r = v + (1 + rng.below(10) as Millis) * DAY;
            if r < now && rng.chance(75) {
                responded = Some(r);
                status = "responded";
                if age > 30 * DAY && rng.chance(80) {
                    status = "completed";
                    closed = Some(r + 10 * DAY);
                    if rng.chance(30) {
                        rating = Some(1 + rng.below(5) as i64);
                    }
                } else if rng.chance(10) {
                    status = "in_progress";
                }
            } else if rng.chance(60) {
                status = "in_progress";
            }
        } else if rng.chance(10) {
            status = "on_hold";
        }
    }
    Row {
        id: format!("n{}:{:026}", i % NODES, i),
        code: format!("BEN-{i:010}"),
        category: ["infrastruktur", "kesehatan", "pendidikan", "transportasi"]
            [rng.below(4) as usize]
            .to_owned(),
        agency,
        region: format!("{}.{:02}", 11 + p, 1 + rng.below(20)),
        confidential: rng.chance(5),
        status,
        submitted,
        verified,
        responded,
        closed,
        rating,
        owner: format!("n{}", i % NODES),
    }
}

async fn load_sqlite(url: &str, rows: &[Row]) -> anyhow::Result<()> {
    let path = url.strip_prefix("sqlite://").unwrap_or(url).to_owned();
    let rows: Vec<_> = rows.iter().map(row_values).collect();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut c = rusqlite::Connection::open(path)?;
        c.busy_timeout(std::time::Duration::from_secs(30))?;
        for chunk in rows.chunks(BATCH) {
            let tx = c.transaction()?;
            {
                let mut ins = tx.prepare_cached(INSERT_SQLITE)?;
                let mut own = tx.prepare_cached(
                    "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) VALUES (?1, ?2, 0, NULL)",
                )?;
                for v in chunk {
                    ins.execute(rusqlite::params![
                        v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9, v.10, v.11, v.12
                    ])?;
                    own.execute(rusqlite::params![v.0, v.13])?;
                }
            }
            tx.commit()?;
        }
        Ok(())
    })
    .await?
}

const INSERT_SQLITE: &str = "INSERT INTO reports (id, tracking_code, secret_hash, kind, title, body, category_id, \
    agency_id, agency_path, region_code, anonymous, confidential, channel, status, submitted_at, updated_at, \
    verified_at, responded_at, closed_at, rating_score, version) VALUES (?1, ?2, '0', 'complaint', \
    'Jalan berlubang di depan pasar', 'Jalan rusak parah sejak musim hujan.', ?3, ?4, ?5, ?6, 0, ?7, 'web', ?8, \
    ?9, ?9, ?10, ?11, ?12, ?13, 1)";

type Values = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    bool,
    &'static str,
    Millis,
    Option<Millis>,
    Option<Millis>,
    Option<Millis>,
    Option<i64>,
    String,
);

fn row_values(r: &Row) -> Values {
    (
        r.id.clone(),
        r.code.clone(),
        r.category.clone(),
        r.agency.as_ref().map(|a| a.0.clone()),
        r.agency.as_ref().map(|a| a.1.clone()),
        r.region.clone(),
        r.confidential,
        r.status,
        r.submitted,
        r.verified,
        r.responded,
        r.closed,
        r.rating,
        r.owner.clone(),
    )
}

async fn load_postgres(url: &str, rows: &[Row]) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(url).await?;
    for chunk in rows.chunks(BATCH) {
        let mut tx = pool.begin().await?;
        let col = |f: &dyn Fn(&Row) -> Option<String>| chunk.iter().map(f).collect::<Vec<_>>();
        let int = |f: &dyn Fn(&Row) -> Option<i64>| chunk.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO reports (id, tracking_code, secret_hash, kind, title, body, category_id, agency_id, \
             agency_path, region_code, anonymous, confidential, channel, status, submitted_at, updated_at, \
             verified_at, responded_at, closed_at, rating_score, version) \
             SELECT id, code, '0', 'complaint', 'Jalan berlubang di depan pasar', 'Jalan rusak parah sejak musim hujan.', \
             cat, ag, path, region, FALSE, conf, 'web', st, sub, sub, ver, resp, clo, rat, 1 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], \
             $8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[]) \
             AS t(id, code, cat, ag, path, region, conf, st, sub, ver, resp, clo, rat)",
        )
        .bind(col(&|r| Some(r.id.clone())))
        .bind(col(&|r| Some(r.code.clone())))
        .bind(col(&|r| Some(r.category.clone())))
        .bind(col(&|r| r.agency.as_ref().map(|a| a.0.clone())))
        .bind(col(&|r| r.agency.as_ref().map(|a| a.1.clone())))
        .bind(col(&|r| Some(r.region.clone())))
        .bind(chunk.iter().map(|r| r.confidential).collect::<Vec<_>>())
        .bind(col(&|r| Some(r.status.to_owned())))
        .bind(int(&|r| Some(r.submitted)))
        .bind(int(&|r| r.verified))
        .bind(int(&|r| r.responded))
        .bind(int(&|r| r.closed))
        .bind(int(&|r| r.rating))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) \
             SELECT id, owner, 0, NULL FROM UNNEST($1::text[], $2::text[]) AS t(id, owner)",
        )
        .bind(col(&|r| Some(r.id.clone())))
        .bind(col(&|r| Some(r.owner.clone())))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    sqlx::query("ANALYZE").execute(&pool).await?;
    Ok(())
}

fn viewer(role: lapor_schemas::Role, agency: Option<(&str, &str)>) -> Viewer {
    Viewer::User {
        user: UserRef {
            id: "bench".into(),
            display_name: "Bench".into(),
            role,
            agency_id: agency.map(|a| a.0.to_owned()),
            agency_path: agency.map(|a| a.1.to_owned()),
        },
        api_token: false,
        token_hash: String::new(),
    }
}

/// Median of `runs` timings of `f`, in milliseconds.
async fn time<F, Fut>(runs: usize, mut f: F) -> anyhow::Result<(f64, i64)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<i64>>,
{
    let mut v = Vec::new();
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f().await?;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    Ok((v[v.len() / 2], n))
}

/// Loads `n` reports and prints the timings.
pub async fn run(n: usize, database: &str) -> anyhow::Result<()> {
    anyhow::ensure!(n > 0, "--stats must be at least 1");
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let s = scratch(database, &key).await?;
    let node = s.node.clone();
    let now = node.now();
    for p in 0..PROVINCES {
        let root = format!("p{p}");
        let mk = |id: String, parent: Option<String>, path: String| AgencyRecord {
            name: format!("Instansi {id}"),
            id,
            parent_id: parent,
            path,
            kind: "office".into(),
            region_code: None,
            active: true,
            created_at: now,
            node_id: None,
        };
        node.store
            .agency_create(&mk(root.clone(), None, format!("/{root}/")))
            .await?;
        for a in 0..PER_PROVINCE {
            let id = format!("{root}-a{a}");
            node.store
                .agency_create(&mk(
                    id.clone(),
                    Some(root.clone()),
                    format!("/{root}/{id}/"),
                ))
                .await?;
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let t = Instant::now();
    let rows: Vec<Row> = (0..n).map(|i| make_row(i, &mut rng, now)).collect();
    if database == "sqlite" {
        load_sqlite(&s.url, &rows).await?;
    } else {
        load_postgres(&s.url, &rows).await?;
    }
    let load = t.elapsed().as_secs_f64();
    drop(rows);
    let app = App::from_node(node.clone());
    let today = app.stats_today();
    let month = Period::from_query(None, None, today)?.previous();
    let year = Period::custom(today - chrono::Days::new(364), today)?;
    let exec = viewer(
        lapor_schemas::Role::Executive,
        Some(("p3-a7", "/p3/p3-a7/")),
    );
    let head = viewer(lapor_schemas::Role::Executive, Some(("p3", "/p3/")));
    let national = viewer(lapor_schemas::Role::Auditor, None);
    let runs = 7;
    let backend = if database == "sqlite" {
        "sqlite"
    } else {
        "postgres"
    };
    println!(
        "lapor bench stats: {n} reports loaded in {load:.1} s ({:.0}/s) into {backend}; {} agencies, {NODES} nodes",
        n as f64 / load,
        PROVINCES * (PER_PROVINCE + 1)
    );
    let cases: Vec<(String, Viewer, Period, bool)> = vec![
        (
            format!("one agency's dashboard, month {}", month.key()),
            exec.clone(),
            month,
            false,
        ),
        (
            "one agency's dashboard, last 365 days".into(),
            exec.clone(),
            year,
            false,
        ),
        (
            format!(
                "province head's dashboard (51 agencies), month {}",
                month.key()
            ),
            head,
            month,
            false,
        ),
        (
            format!("national monthly recap {}", month.key()),
            national.clone(),
            month,
            false,
        ),
        (
            format!("national monthly recap {} as PDF", month.key()),
            national,
            month,
            true,
        ),
        (
            format!("public statistics page, month {}", month.key()),
            Viewer::Public,
            month,
            false,
        ),
    ];
    for (name, v, p, pdf) in cases {
        let (ms, count) = time(runs, || {
            let app = app.clone();
            let v = v.clone();
            async move {
                if pdf {
                    let b = app
                        .recap_render(&v, &p, None, crate::app::RecapFormat::Pdf)
                        .await?;
                    Ok(i64::try_from(b.len()).unwrap_or(0))
                } else {
                    Ok(app.recap(&v, &p, None).await?.total.received)
                }
            }
        })
        .await?;
        let unit = if pdf { "bytes" } else { "reports" };
        println!(
            "  {name:<58} {ms:>9.1} ms  (target {TARGET_MS:.0} ms; {count} {unit}; median of {runs})"
        );
    }
    drop(app);
    drop(node);
    drop_scratch(s).await?;
    Ok(())
}
