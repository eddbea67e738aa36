#![allow(clippy::too_many_lines, clippy::cast_possible_truncation)]
//! Randomised chaos and convergence (issue 11): a hub and two regional nodes as real `lapor` processes
//! behind fault proxies, driven by a schedule drawn from a seed: reports filed on every node (some routed to
//! another region), staff actions, reporters' replies, acceptances and ratings on every node, transfers asked
//! for by owners and by the hub, partitions, duplicated, dropped, delayed and reordered requests, cut
//! responses, SIGKILL restarts and SIGSTOP pauses. After healing, every node must agree:
//!
//! * one owner and epoch per report, the same everywhere, and no transfer left open;
//! * the owner's and the hub's timelines identical, with `created` exactly once;
//! * every action answered 200 present exactly once in that timeline, every refused one (4xx) absent, every
//!   one of unknown outcome (no answer, 5xx, 202 forwarded) at most once; each action carries a unique note,
//!   so it is found wherever it went;
//! * every log head the same on the hub and the node that authors it; nothing in any inbox, nothing pending,
//!   no backlog, no frozen origin, no equivocation, no refusal by the authorisation rules.
//!
//! Quick mode (the default, part of `cargo test`): `LAPOR_CHAOS_SCHEDULES` schedules (default 2) of
//! `LAPOR_CHAOS_STEPS` steps (default 12). Long mode: `LAPOR_CHAOS_SCHEDULES=100`. A failing schedule prints
//! `chaos seed <n> failed`, its steps and what differed; replay it alone with `LAPOR_CHAOS_SEED=<n>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Context};
use lapor_tests::cluster::{Cluster, Member};
use lapor_tests::proxy::Mode;
use lapor_tests::{wait_for, Api};
use serde_json::{json, Value};

/// First seed of the default schedules.
const BASE_SEED: u64 = 0x000c_4a05_0000;
/// How long healed nodes get to agree.
const CONVERGE: Duration = Duration::from_secs(120);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// SplitMix64: small, seedable, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What became of an action the test asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Answered 200: must be in the final timeline exactly once.
    Acked,
    /// Refused (4xx): must not be there.
    Refused,
    /// No answer, 5xx, or 202 (forwarded, applied later if still legal): at most once.
    Unknown,
}

fn outcome(status: Option<u16>) -> Outcome {
    match status {
        Some(200) => Outcome::Acked,
        Some(s) if (400..500).contains(&s) => Outcome::Refused,
        _ => Outcome::Unknown,
    }
}

struct Tracked {
    code: String,
    secret: String,
    /// Unique note of each action asked for, with its outcome.
    actions: Vec<(String, Outcome)>,
}

struct Schedule {
    seed: u64,
    rng: Rng,
    c: Cluster,
    reports: Vec<Tracked>,
    /// A member paused with SIGSTOP and the steps left until SIGCONT.
    stopped: Option<(usize, usize)>,
    log: Vec<String>,
    notes: u64,
}

const REGIONS: [(&str, &str, &str); 2] = [("kupangkota", "KPG", "53.71"), ("kaltim", "KTM", "64")];

impl Schedule {
    async fn start(seed: u64) -> anyhow::Result<Self> {
        let c = Cluster::start_with(
            &REGIONS,
            &[
                ("LAPOR_ROUTING__TRANSFER_EXPIRY_SECS", "20"),
                ("LAPOR_ROUTING__TRANSFER_COOLDOWN_SECS", "0"),
            ],
        )
        .await?;
        for m in &c.members {
            let (st, body) = m
                .admin()?
                .post_json(
                    "/api/v1/agencies",
                    &json!({"id": "dinas-umum", "name": "Dinas Umum", "kind": "office"}),
                )
                .await?;
            anyhow::ensure!(st.is_success(), "agency on {}: {st} {body}", m.id);
        }
        Ok(Self {
            seed,
            rng: Rng(seed),
            c,
            reports: Vec::new(),
            stopped: None,
            log: Vec::new(),
            notes: 0,
        })
    }

    fn note(&mut self) -> String {
        self.notes += 1;
        format!("chaos-{:x}-{}", self.seed, self.notes)
    }

    /// A member that is not paused.
    fn live_member(&mut self) -> usize {
        loop {
            let i = self.rng.below(self.c.members.len());
            if self.stopped.is_none_or(|(s, _)| s != i) {
                return i;
            }
        }
    }

    fn record(&mut self, line: String) {
        self.log.push(line);
    }

    async fn step(&mut self) -> anyhow::Result<()> {
        if let Some((i, left)) = self.stopped {
            if left == 0 {
                signal(&self.c.members[i], "CONT")?;
                self.record(format!("SIGCONT {}", self.c.members[i].id));
                self.stopped = None;
            } else {
                self.stopped = Some((i, left - 1));
            }
        }
        let roll = self.rng.below(100);
        match roll {
            0..=19 => self.file().await,
            20..=44 => self.staff_action().await,
            45..=59 => self.reporter_action().await,
            60..=69 => self.transfer().await,
            70..=79 => self.partition(),
            80..=89 => self.fault(),
            90..=95 => self.crash(),
            _ => self.pause(),
        }
    }

    async fn file(&mut self) -> anyhow::Result<()> {
        let i = self.live_member();
        let m = &self.c.members[i];
        // Mostly a report for the node it is filed on; sometimes one that routing sends elsewhere.
        let region = match (m.role.as_str(), self.rng.below(4)) {
            ("hub", 0) => None,
            ("hub", n) => Some(REGIONS[n % 2].2),
            (_, 0) => Some(REGIONS.iter().find(|r| r.0 != m.id).map_or("64", |r| r.2)),
            _ => REGIONS.iter().find(|r| r.0 == m.id).map(|r| r.2),
        };
        let mut body = json!({"kind": "complaint", "title": format!("Laporan uji {}", self.notes + 1),
            "body": "Jalan rusak berat di depan pasar, sudah lama tidak diperbaiki.",
            "reporter": {"name": "Maria Ndun", "phone": "081234567890"}});
        if let Some(r) = region {
            body["region_code"] = json!(r);
        }
        self.notes += 1;
        let answer = m.api().post_json("/api/v1/reports", &body).await;
        let line = match answer {
            Ok((st, v)) if st.as_u16() == 201 => {
                let code = v["tracking_code"].as_str().context("code")?.to_owned();
                let secret = v["tracking_secret"].as_str().context("secret")?.to_owned();
                let line = format!("file on {} ({region:?}): {code}", m.id);
                self.reports.push(Tracked {
                    code,
                    secret,
                    actions: Vec::new(),
                });
                line
            }
            Ok((st, v)) => format!("file on {} ({region:?}): {st} {v}", m.id),
            Err(e) => format!("file on {} ({region:?}): {e:#}", m.id),
        };
        self.record(line);
        Ok(())
    }

    fn pick_report(&mut self) -> Option<usize> {
        (!self.reports.is_empty()).then(|| self.rng.below(self.reports.len()))
    }

    async fn act(
        &mut self,
        r: usize,
        member: usize,
        path: &str,
        body: &Value,
        secret: bool,
        note: String,
    ) -> anyhow::Result<()> {
        let m = &self.c.members[member];
        let id = m.id.clone();
        let code = self.reports[r].code.clone();
        let (api, headers): (Api, Vec<(&str, &str)>) = if secret {
            (
                m.api(),
                vec![("x-tracking-secret", self.reports[r].secret.as_str())],
            )
        } else {
            (m.admin()?, Vec::new())
        };
        let answer = api
            .send_json(
                reqwest::Method::POST,
                &format!("/api/v1/reports/{code}/{path}"),
                Some(body),
                &headers,
            )
            .await;
        let (status, shown) = match &answer {
            Ok((st, v)) => (Some(st.as_u16()), format!("{st} {}", v["code"])),
            Err(e) => (None, format!("{e:#}")),
        };
        // A contribution forwarded to the owner (202) or a transfer opened (202) is not yet done.
        let o = outcome(status);
        self.reports[r].actions.push((note.clone(), o));
        self.record(format!("{path} {code} on {id} [{note}]: {shown}"));
        Ok(())
    }

    async fn staff_action(&mut self) -> anyhow::Result<()> {
        let Some(r) = self.pick_report() else {
            return Ok(());
        };
        let i = self.live_member();
        let note = self.note();
        let (path, body) = match self.rng.below(4) {
            0 => (
                "verify",
                json!({"agency_id": "dinas-umum", "note": note.clone()}),
            ),
            1 => ("acknowledge", json!({"note": note.clone()})),
            2 => ("respond", json!({"note": note.clone()})),
            _ => ("hold", json!({"note": note.clone()})),
        };
        self.act(r, i, path, &body, false, note).await
    }

    async fn reporter_action(&mut self) -> anyhow::Result<()> {
        let Some(r) = self.pick_report() else {
            return Ok(());
        };
        let i = self.live_member();
        let note = self.note();
        let (path, body) = match self.rng.below(3) {
            0 | 1 => ("reply", json!({"note": note.clone()})),
            _ => ("accept", json!({"note": note.clone()})),
        };
        self.act(r, i, path, &body, true, note).await
    }

    async fn transfer(&mut self) -> anyhow::Result<()> {
        let Some(r) = self.pick_report() else {
            return Ok(());
        };
        let i = self.live_member();
        let to = REGIONS[self.rng.below(2)].0;
        let note = self.note();
        let body = json!({"to_node": to, "note": note.clone()});
        self.act(r, i, "transfer", &body, false, note).await
    }

    fn proxy_names(&self) -> Vec<String> {
        self.c.proxies.keys().cloned().collect()
    }

    fn partition(&mut self) -> anyhow::Result<()> {
        let region = REGIONS[self.rng.below(2)].0;
        let cut = self.rng.chance(60);
        self.c.partition(region, cut)?;
        self.record(format!(
            "{} {region}",
            if cut { "partition" } else { "heal" }
        ));
        Ok(())
    }

    fn fault(&mut self) -> anyhow::Result<()> {
        let names = self.proxy_names();
        let name = names[self.rng.below(names.len())].clone();
        let mode = match self.rng.below(6) {
            0 => Mode::Duplicate,
            1 => Mode::DropNext(1 + self.rng.below(3) as u32),
            2 => Mode::DropNextRequests(1 + self.rng.below(3) as u32),
            3 => Mode::Delay(Duration::from_millis(100 + self.rng.below(400) as u64)),
            4 => Mode::Reorder,
            _ => Mode::Pass,
        };
        self.c.proxy(&name)?.add_mode(mode);
        self.record(format!("fault {name}: {mode:?}"));
        Ok(())
    }

    fn crash(&mut self) -> anyhow::Result<()> {
        let i = self.live_member();
        let m = &mut self.c.members[i];
        tokio::task::block_in_place(|| -> anyhow::Result<()> {
            m.kill()?;
            m.start()
        })?;
        let id = m.id.clone();
        self.record(format!("SIGKILL and restart {id}"));
        Ok(())
    }

    fn pause(&mut self) -> anyhow::Result<()> {
        if self.stopped.is_some() {
            return Ok(());
        }
        let i = self.live_member();
        signal(&self.c.members[i], "STOP")?;
        let steps = 1 + self.rng.below(3);
        self.stopped = Some((i, steps));
        self.record(format!(
            "SIGSTOP {} for {steps} steps",
            self.c.members[i].id
        ));
        Ok(())
    }

    fn heal(&mut self) -> anyhow::Result<()> {
        if let Some((i, _)) = self.stopped.take() {
            signal(&self.c.members[i], "CONT")?;
        }
        for p in self.c.proxies.values() {
            p.set_mode(Mode::Pass);
        }
        for m in &mut self.c.members {
            let running = m.node.as_mut().is_some_and(lapor_tests::Node::is_running);
            if !running {
                tokio::task::block_in_place(|| m.start())?;
            }
        }
        self.record("heal everything".into());
        Ok(())
    }

    /// `Ok(())` when every node agrees, else what differs.
    async fn converged(&self) -> anyhow::Result<Option<()>> {
        let hub = self.c.hub();
        let h = hub.admin()?;
        let mut heads = BTreeMap::new();
        for m in &self.c.members {
            let out = m.cli(&["federation", "status"])?;
            check_status(&m.id, &out)?;
            heads.insert(m.id.clone(), heads_of(&out));
        }
        let at_hub = &heads["hub"];
        for (id, own) in &heads {
            if id == "hub" {
                continue;
            }
            for origin in [id.as_str(), "hub"] {
                let (a, b) = (own.get(origin), at_hub.get(origin));
                if a.is_some() && b.is_some() && a != b {
                    bail!("head of {origin}: {a:?} on {id}, {b:?} on the hub");
                }
            }
            if own.get(id.as_str()) != at_hub.get(id.as_str()) {
                bail!(
                    "head of {id}: {:?} there, {:?} on the hub",
                    own.get(id.as_str()),
                    at_hub.get(id.as_str())
                );
            }
        }
        for t in &self.reports {
            let hv = view(&h, &t.code).await?.context("the hub lost a report")?;
            if let Some(state) = hv["transfer"]["state"].as_str() {
                if ["offered", "forwarded", "accepted"].contains(&state) {
                    bail!("{}: transfer still {state} at the hub", t.code);
                }
            }
            let owner = hv["owner_node"].as_str().context("owner_node")?.to_owned();
            let ov = view(&self.c.member(&owner).admin()?, &t.code)
                .await?
                .with_context(|| format!("{} not on its owner {owner}", t.code))?;
            for m in &self.c.members {
                let v = if m.id == "hub" {
                    hv.clone()
                } else if m.id == owner {
                    ov.clone()
                } else {
                    view(&m.admin()?, &t.code)
                        .await?
                        .with_context(|| format!("{} unknown on {}", t.code, m.id))?
                };
                if v["owner_node"] != hv["owner_node"] || v["epoch"] != hv["epoch"] {
                    bail!(
                        "{}: {} says owner {} epoch {}, the hub {} epoch {}",
                        t.code,
                        m.id,
                        v["owner_node"],
                        v["epoch"],
                        hv["owner_node"],
                        hv["epoch"]
                    );
                }
            }
            if ov["status"] != hv["status"] {
                bail!(
                    "{}: status {} on {owner}, {} on the hub",
                    t.code,
                    ov["status"],
                    hv["status"]
                );
            }
            let (ot, ht) = (timeline(&ov), timeline(&hv));
            if ot != ht {
                bail!(
                    "{}: timelines differ\n  {owner}: {ot:?}\n  hub: {ht:?}",
                    t.code
                );
            }
            let created = ot.iter().filter(|(a, _)| a == "created").count();
            if created != 1 {
                bail!("{}: {created} created entries on {owner}", t.code);
            }
            for (note, o) in &t.actions {
                let n = ot
                    .iter()
                    .filter(|(_, text)| {
                        text.split(|c: char| !c.is_alphanumeric() && c != '-')
                            .any(|w| w == note)
                    })
                    .count();
                let ok = match o {
                    Outcome::Acked => n == 1,
                    Outcome::Refused => n == 0,
                    Outcome::Unknown => n <= 1,
                };
                if !ok {
                    bail!(
                        "{}: action [{note}] ({o:?}) is {n} times in the timeline on {owner}: {ot:?}",
                        t.code
                    );
                }
            }
        }
        Ok(Some(()))
    }
}

fn signal(m: &Member, sig: &str) -> anyhow::Result<()> {
    let pid = m
        .node
        .as_ref()
        .and_then(lapor_tests::Node::pid)
        .context("not running")?;
    let st = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()?;
    anyhow::ensure!(st.success(), "kill -{sig} {pid}");
    Ok(())
}

async fn view(api: &Api, code: &str) -> anyhow::Result<Option<Value>> {
    let (st, body) = api.get_json(&format!("/api/v1/reports/{code}")).await?;
    match st.as_u16() {
        200 => Ok(Some(body)),
        404 => Ok(None),
        _ => bail!("GET {code} on {}: {st} {body}", api.base()),
    }
}

fn timeline(v: &Value) -> Vec<(String, String)> {
    v["timeline"].as_array().map_or_else(Vec::new, |t| {
        t.iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default().to_owned(),
                    e["note"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    })
}

/// `origin -> head seq` from `lapor federation status`.
fn heads_of(status: &str) -> BTreeMap<String, u64> {
    status
        .split("\norigins:\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let origin = w.next()?.to_owned();
            (w.next()? == "head").then_some(())?;
            Some((origin, w.next()?.parse().ok()?))
        })
        .collect()
}

/// Nothing waiting or wrong in one node's `lapor federation status`.
fn check_status(id: &str, out: &str) -> anyhow::Result<()> {
    for (needle, what) in [
        ("FROZEN", "a frozen origin"),
        ("REFUSED", "an authorisation refusal"),
    ] {
        if out.contains(needle) {
            bail!("{id} shows {what}:\n{out}");
        }
    }
    for (needle, what) in [
        ("inbox: 0 waiting", "an empty inbox"),
        ("pending: 0 waiting", "nothing pending"),
        ("equivocations: 0", "no equivocation"),
    ] {
        if !out.contains(needle) {
            bail!("{id} does not show {what} yet:\n{out}");
        }
    }
    if out
        .lines()
        .any(|l| l.contains("backlog ") && !l.contains("backlog 0 "))
    {
        bail!("{id} still has a push backlog:\n{out}");
    }
    Ok(())
}

async fn run_schedule(seed: u64, steps: usize) -> Result<(), String> {
    let mut s = match Schedule::start(seed).await {
        Ok(s) => s,
        Err(e) => return Err(format!("cluster start: {e:#}")),
    };
    let mut failure = None;
    for n in 0..steps {
        if let Err(e) = s.step().await {
            failure = Some(format!("step {n}: {e:#}"));
            break;
        }
        let pause = s.rng.below(300) as u64;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    if failure.is_none() {
        if let Err(e) = s.heal() {
            failure = Some(format!("heal: {e:#}"));
        }
    }
    if failure.is_none() {
        let s = &s;
        if let Err(e) = wait_for(
            "every node to agree",
            CONVERGE,
            Duration::from_secs(1),
            || s.converged(),
        )
        .await
        {
            failure = Some(format!("{e:#}"));
        }
    }
    match failure {
        None => Ok(()),
        Some(f) => {
            let mut text = format!("chaos seed {seed} failed: {f}\nsteps:\n");
            for l in &s.log {
                let _ = writeln!(text, "  {l}");
            }
            for m in &s.c.members {
                let out = m.output();
                let tail: Vec<&str> = out.lines().rev().take(40).collect();
                let _ = writeln!(text, "--- last lines of {} ---", m.id);
                for l in tail.into_iter().rev() {
                    let _ = writeln!(text, "  {l}");
                }
            }
            Err(text)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_schedules_converge() {
    let steps = env_u64("LAPOR_CHAOS_STEPS").map_or(12, |n| n as usize);
    let seeds: Vec<u64> = if let Some(seed) = env_u64("LAPOR_CHAOS_SEED") {
        vec![seed]
    } else {
        let n = env_u64("LAPOR_CHAOS_SCHEDULES").unwrap_or(2);
        (0..n).map(|i| BASE_SEED + i).collect()
    };
    let mut failed = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        eprintln!("chaos schedule {}/{}: seed {seed}", i + 1, seeds.len());
        if let Err(text) = run_schedule(*seed, steps).await {
            eprintln!("{text}");
            failed.push(*seed);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} chaos schedules failed; replay one with LAPOR_CHAOS_SEED=<seed>: {failed:?}",
        failed.len(),
        seeds.len()
    );
    eprintln!("{} chaos schedules of {steps} steps converged", seeds.len());
}
