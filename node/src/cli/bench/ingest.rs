//! `lapor bench ingest`: federation ingest on the hub, beside the raw ed25519 verify rates of the same events
//! measured in the same run. Ingest is the receiving node's real path minus HTTP: the signatures of a push
//! are checked over every core with batch verification and every event's key validity in order (what
//! `POST /federation/v1/push` runs), the good events are stored durably in the inbox with the push's answer,
//! then the applier applies them (log classification, event row, report snapshot, timeline entry) in one
//! transaction per batch. "Batched" is 200 events per push; "single" is one event per push, each with its
//! own two durable transactions. On PostgreSQL the limit beside apply is a bare multi-row insert of the same
//! bytes into a scratch table.

use std::sync::Arc;
use std::time::Instant;

use ed25519_dalek::{SigningKey, Verifier as _};
use lapor_federation::envelope::EVENT_DOMAIN;
use lapor_federation::SignedEvent;

use super::{drop_scratch, line, make_events, scratch, ORIGIN};
use crate::federation::{apply, verify};
use crate::node::Node;

/// Events per push in the batched runs (what a push worker sends when it has a backlog).
const PER_PUSH: usize = 200;

/// `lapor bench ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events of the batched runs (the single runs take at most 2,000).
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Also measure on PostgreSQL: a server URL next to which a scratch database is created and dropped.
    #[arg(long, env = "LAPOR_BENCH_POSTGRES")]
    pub postgres: Option<String>,
    /// A short run (2,000 events) that only shows the part still works.
    #[arg(long)]
    pub quick: bool,
}

/// Events per second of a whole ingest run, and the seconds spent in each phase.
struct Ingest {
    rate: f64,
    verify: f64,
    inbox: f64,
    apply: f64,
}

impl Ingest {
    fn raw(&self) -> String {
        format!(
            "verify {:.2} s, inbox {:.2} s, apply {:.2} s",
            self.verify, self.inbox, self.apply
        )
    }
}

/// Receives `events` in pushes of `per_push`, applying after each.
async fn ingest(node: &Node, events: &[SignedEvent], per_push: usize) -> anyhow::Result<Ingest> {
    let start = Instant::now();
    let (mut verify_t, mut inbox_t, mut apply_t) = (0.0, 0.0, 0.0);
    for (n, chunk) in events.chunks(per_push).enumerate() {
        let t = Instant::now();
        let wires: Arc<Vec<Vec<u8>>> =
            Arc::new(chunk.iter().map(|e| e.wire_bytes().to_vec()).collect());
        let mut log = node.fed.keylog_snapshot()?;
        let signatures = verify::verify_signatures(Arc::new(log.clone()), Arc::clone(&wires)).await;
        let mut inbox = Vec::with_capacity(chunk.len());
        for (bytes, checked) in wires.iter().zip(verify::check_events(
            &mut log,
            node.id(),
            &wires,
            signatures,
        )) {
            let signed =
                checked.map_err(|(_, code, reason)| anyhow::anyhow!("{code}: {reason}"))?;
            inbox.push(verify::inbox_event(&signed, bytes));
        }
        verify_t += t.elapsed().as_secs_f64();
        let t = Instant::now();
        node.store
            .inbox_insert(ORIGIN, &format!("bench-{n}"), "{}", &inbox, node.now())
            .await?;
        inbox_t += t.elapsed().as_secs_f64();
        let t = Instant::now();
        while apply::apply_once(node).await? > 0 {}
        apply_t += t.elapsed().as_secs_f64();
    }
    let secs = start.elapsed().as_secs_f64();
    let head = node
        .store
        .origin_heads()
        .await?
        .into_iter()
        .find(|h| h.origin == ORIGIN)
        .map_or(0, |h| h.head_seq);
    anyhow::ensure!(
        head == events.len() as i64,
        "only {head} of {} events were applied",
        events.len()
    );
    Ok(Ingest {
        rate: events.len() as f64 / secs,
        verify: verify_t,
        inbox: inbox_t,
        apply: apply_t,
    })
}

/// The raw signature rates over exactly the signed messages of `events`, one core, no parsing:
/// (`verify_strict` one by one, `verify` one by one, batch verification in pushes of [`PER_PUSH`]).
fn raw_rates(key: &SigningKey, events: &[SignedEvent]) -> anyhow::Result<(f64, f64, f64)> {
    let messages: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let mut m = EVENT_DOMAIN.to_vec();
            m.extend_from_slice(&e.event().unsigned_bytes()?);
            Ok(m)
        })
        .collect::<anyhow::Result<_>>()?;
    let n = events.len() as f64;
    let public = key.verifying_key();
    let t = Instant::now();
    for (m, e) in messages.iter().zip(events) {
        public.verify_strict(m, e.signature())?;
    }
    let strict = n / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for (m, e) in messages.iter().zip(events) {
        public.verify(m, e.signature())?;
    }
    let lax = n / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for (ms, es) in messages.chunks(PER_PUSH).zip(events.chunks(PER_PUSH)) {
        let ms: Vec<&[u8]> = ms.iter().map(Vec::as_slice).collect();
        let sigs: Vec<_> = es.iter().map(|e| *e.signature()).collect();
        ed25519_dalek::verify_batch(&ms, &sigs, &vec![public; ms.len()])?;
    }
    let batch = n / t.elapsed().as_secs_f64();
    Ok((strict, lax, batch))
}

/// Rows per second of a bare multi-row insert of `events`' wire bytes (with their id, origin and sequence
/// number) into a scratch table, [`PER_PUSH`] rows per statement and one transaction per statement: what
/// PostgreSQL itself does with the bytes of a batch, with nothing of ours around it.
async fn bare_insert(url: &str, events: &[SignedEvent]) -> anyhow::Result<f64> {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url).await?;
    sqlx::query(
        "CREATE TABLE bench_bare (id TEXT PRIMARY KEY, origin TEXT NOT NULL, origin_seq BIGINT NOT NULL, \
         wire BYTEA NOT NULL, UNIQUE (origin, origin_seq))",
    )
    .execute(&mut c)
    .await?;
    let t = Instant::now();
    for chunk in events.chunks(PER_PUSH) {
        let ids: Vec<String> = chunk.iter().map(|e| e.id().to_string()).collect();
        let origins: Vec<&str> = chunk.iter().map(|e| e.event().origin.as_str()).collect();
        let seqs: Vec<i64> = chunk.iter().map(|e| e.event().origin_seq as i64).collect();
        let wires: Vec<&[u8]> = chunk.iter().map(SignedEvent::wire_bytes).collect();
        let mut tx = c.begin().await?;
        sqlx::query(
            "INSERT INTO bench_bare (id, origin, origin_seq, wire) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bytea[])",
        )
        .bind(&ids)
        .bind(&origins)
        .bind(&seqs)
        .bind(&wires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(events.len() as f64 / t.elapsed().as_secs_f64())
}

/// Batched and single ingest on one backend; the lines it prints.
async fn backend(
    name: &str,
    database: &str,
    key: &SigningKey,
    events: &[SignedEvent],
    raw: f64,
    budget: f64,
) -> anyhow::Result<()> {
    let n = events.len();
    let s = scratch(database, key).await?;
    let batched = ingest(&s.node, events, PER_PUSH).await?;
    let bare = if s.pg.is_some() {
        Some(bare_insert(&s.url, events).await?)
    } else {
        None
    };
    drop_scratch(s).await?;
    let single_n = n.min(2000);
    let s = scratch(database, key).await?;
    let single = ingest(&s.node, &events[..single_n], 1).await?;
    drop_scratch(s).await?;
    line(
        &format!("ingest.batched.{name}"),
        batched.rate,
        raw,
        "events/s",
        &format!(
            "limit raw verify_strict 1 core; budget ratio >= {budget}; {n} events, {PER_PUSH} per push; {}",
            batched.raw()
        ),
    );
    line(
        &format!("ingest.single.{name}"),
        single.rate,
        2000.0,
        "events/s",
        &format!(
            "limit the budget 2,000/s; {single_n} events, 1 per push; {}",
            single.raw()
        ),
    );
    if let Some(bare) = bare {
        line(
            &format!("ingest.apply.{name}"),
            n as f64 / batched.apply,
            bare,
            "events/s",
            &format!(
                "limit a bare multi-row insert of the same bytes ({PER_PUSH} rows per statement and transaction)"
            ),
        );
    }
    Ok(())
}

/// Runs the benchmark and prints the figures.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let n = if args.quick {
        args.events.min(2000)
    } else {
        args.events
    };
    anyhow::ensure!(n > 0, "--events must be at least 1");
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let key_id = lapor_federation::keys::key_id_for(&key.verifying_key());
    let events = make_events(&key, &key_id, n)?;
    let bytes: usize = events.iter().map(|e| e.wire_bytes().len()).sum();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "lapor bench ingest: {n} report.created events of {} bytes on average, {cores} cores",
        bytes / n
    );
    let (strict, lax, batch) = raw_rates(&key, &events)?;
    line(
        "verify.strict.1core",
        strict,
        strict,
        "signatures/s",
        "ed25519-dalek verify_strict over the signed messages, no parsing",
    );
    line(
        "verify.plain.1core",
        lax,
        strict,
        "signatures/s",
        "ed25519-dalek verify (not strict), beside verify_strict",
    );
    line(
        "verify.batch.1core",
        batch,
        strict,
        "signatures/s",
        &format!("ed25519-dalek verify_batch in sets of {PER_PUSH}, beside verify_strict"),
    );
    backend("sqlite", "sqlite", &key, &events, strict, 0.5).await?;
    if let Some(pg) = &args.postgres {
        backend("postgres", pg, &key, &events, strict, 0.3).await?;
    }
    Ok(())
}
