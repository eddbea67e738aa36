//! A hub and regional nodes as real `lapor` processes on 127.0.0.1, with a [`FaultProxy`] on every link so a
//! test can cut, delay, drop, duplicate and reorder node-to-node traffic. Each node's peers are enrolled with
//! `lapor peers add` before it starts, exactly as an operator would.
//!
//! ```text
//!   regional ──(proxy up_<id>)──> hub          hub ──(proxy down_<id>)──> regional
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::proxy::FaultProxy;
use crate::{free_port, run_cli, wait_for, Api, Node, NodeOptions};

/// The admin password every test node gets.
pub const PASSWORD: &str = "kata-sandi-uji-123";

/// One node of a cluster.
#[derive(Debug)]
pub struct Member {
    /// Node id.
    pub id: String,
    /// Tracking code prefix.
    pub code: String,
    /// `hub`, `regional` or `ombudsman`.
    pub role: String,
    /// Data directory.
    pub dir: PathBuf,
    /// Its port.
    pub port: u16,
    /// Environment it runs with.
    pub env: Vec<(String, String)>,
    /// Public signing key (hex).
    pub public_key: String,
    /// Encryption public key (hex).
    pub enc_public: String,
    /// Key id.
    pub key_id: String,
    /// The running process.
    pub node: Option<Node>,
    /// Admin API client once bootstrapped.
    pub admin: Option<Api>,
}

impl Member {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An anonymous client.
    pub fn api(&self) -> Api {
        Api::new(&self.base())
    }

    /// The admin client.
    pub fn admin(&self) -> anyhow::Result<Api> {
        self.admin.clone().context("node not bootstrapped")
    }

    fn env_refs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Runs a `lapor` subcommand against this node's data directory and config.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let (status, out, err) = run_cli(&self.dir, args, &self.env_refs())?;
        if !status.success() {
            bail!("lapor {} failed: {err}{out}", args.join(" "));
        }
        Ok(out)
    }

    /// Starts (or restarts) the process.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let options = NodeOptions::new().port(self.port).envs(&self.env_refs());
        self.node = Some(Node::start_with(&self.dir, options)?);
        Ok(())
    }

    /// SIGKILL.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(n) = self.node.as_mut() {
            n.crash()?;
        }
        Ok(())
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(n) = self.node.as_mut() {
            n.terminate()?;
        }
        self.node = None;
        Ok(())
    }

    /// Everything the process printed.
    pub fn output(&self) -> String {
        self.node.as_ref().map(Node::output).unwrap_or_default()
    }

    /// Creates the first admin with the bootstrap secret the node printed and logs in.
    pub async fn bootstrap(&mut self) -> anyhow::Result<Api> {
        let node = self.node.as_ref().context("not running")?;
        let admin = node.bootstrap_admin(PASSWORD).await?;
        self.admin = Some(admin.clone());
        Ok(admin)
    }
}

fn field(out: &str, name: &str) -> anyhow::Result<String> {
    out.lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        .with_context(|| format!("`{name}` not in: {out}"))
}

/// A hub and regional nodes.
pub struct Cluster {
    /// The hub is `members[0]`.
    pub members: Vec<Member>,
    /// Proxies by name: `up_<regional id>` (regional -> hub) and `down_<regional id>` (hub -> regional).
    pub proxies: BTreeMap<String, FaultProxy>,
    _root: tempfile::TempDir,
}

impl Cluster {
    /// Prepares a hub `hub` and regional nodes `(id, code)`, with keys and peers enrolled, and starts all.
    pub async fn start(regionals: &[(&str, &str)]) -> anyhow::Result<Self> {
        let specs: Vec<(&str, &str, &str)> = regionals.iter().map(|(i, c)| (*i, *c, "")).collect();
        Self::start_with(&specs, &[]).await
    }

    /// Like [`Cluster::start`], with the region code each regional node serves (`(id, code, region)`;
    /// enrolled at the hub and set as the node's `node.region_codes`) and extra environment for every node.
    pub async fn start_with(
        regionals: &[(&str, &str, &str)],
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let specs: Vec<(&str, &str, &str, &str)> = regionals
            .iter()
            .map(|(id, code, region)| (*id, *code, *region, "regional"))
            .collect();
        Self::start_roles(&specs, extra_env).await
    }

    /// Like [`Cluster::start_with`], with each node's role (`(id, code, region, role)`, role `regional` or
    /// `ombudsman`): set as the node's `node.role` and enrolled at the hub with it.
    pub async fn start_roles(
        nodes: &[(&str, &str, &str, &str)],
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        let mut members = Vec::new();
        let mut specs = vec![("hub", "HUB", "hub", "")];
        specs.extend(
            nodes
                .iter()
                .map(|(id, code, region, role)| (*id, *code, *role, *region)),
        );
        let mut regions = BTreeMap::new();
        for (id, code, role, region) in specs {
            regions.insert(id.to_owned(), region.to_owned());
            let dir = root.path().join(id);
            std::fs::create_dir_all(&dir)?;
            let port = free_port()?;
            let env = vec![
                ("LAPOR_NODE__ID".to_owned(), id.to_owned()),
                ("LAPOR_NODE__CODE".to_owned(), code.to_owned()),
                ("LAPOR_NODE__ROLE".to_owned(), role.to_owned()),
                ("LAPOR_NODE__TIMEZONE".to_owned(), "WITA".to_owned()),
                ("LAPOR_FEDERATION__POLL_MS".to_owned(), "200".to_owned()),
                (
                    "LAPOR_FEDERATION__MAX_BACKOFF_SECS".to_owned(),
                    "1".to_owned(),
                ),
                (
                    "LAPOR_FEDERATION__REQUEST_TIMEOUT_SECS".to_owned(),
                    "5".to_owned(),
                ),
                (
                    "LAPOR_FEDERATION__DIRECTORY_REFRESH_SECS".to_owned(),
                    "2".to_owned(),
                ),
                (
                    "LAPOR_FEDERATION__PUBLIC_URL".to_owned(),
                    format!("http://127.0.0.1:{port}"),
                ),
                ("LAPOR_LOG__LEVEL".to_owned(), "info".to_owned()),
            ];
            let mut env = env;
            if !region.is_empty() {
                env.push((
                    "LAPOR_NODE__REGION_CODES".to_owned(),
                    format!("[\"{region}\"]"),
                ));
            }
            env.extend(
                extra_env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            let mut m = Member {
                id: id.into(),
                code: code.into(),
                role: role.into(),
                dir,
                port,
                env,
                public_key: String::new(),
                enc_public: String::new(),
                key_id: String::new(),
                node: None,
                admin: None,
            };
            let out = m.cli(&["keys", "generate"])?;
            m.public_key = field(&out, "public_key:")?;
            m.enc_public = field(&out, "enc_public:")?;
            m.key_id = field(&out, "key_id:")?;
            members.push(m);
        }
        let mut proxies = BTreeMap::new();
        let hub_base = members[0].base();
        for i in 1..members.len() {
            let up = FaultProxy::start(&hub_base).await?;
            let down = FaultProxy::start(&members[i].base()).await?;
            let (hub, rest) = members.split_at_mut(1);
            let r = &rest[i - 1];
            let region = regions.get(&r.id).cloned().unwrap_or_default();
            hub[0].cli(&[
                "peers",
                "add",
                "--node-id",
                &r.id,
                "--role",
                &r.role,
                "--url",
                &down.base(),
                "--public-key",
                &r.public_key,
                "--enc-public",
                &r.enc_public,
                "--regions",
                &region,
            ])?;
            r.cli(&[
                "peers",
                "add",
                "--node-id",
                "hub",
                "--role",
                "hub",
                "--url",
                &up.base(),
                "--public-key",
                &hub[0].public_key,
                "--enc-public",
                &hub[0].enc_public,
            ])?;
            proxies.insert(format!("up_{}", r.id), up);
            proxies.insert(format!("down_{}", r.id), down);
        }
        for m in &mut members {
            m.start()?;
            m.bootstrap().await?;
        }
        Ok(Self {
            members,
            proxies,
            _root: root,
        })
    }

    /// The hub.
    pub fn hub(&self) -> &Member {
        &self.members[0]
    }

    /// A member by id.
    pub fn member(&self, id: &str) -> &Member {
        self.members
            .iter()
            .find(|m| m.id == id)
            .unwrap_or(&self.members[0])
    }

    /// A member by id, mutably.
    pub fn member_mut(&mut self, id: &str) -> anyhow::Result<&mut Member> {
        self.members
            .iter_mut()
            .find(|m| m.id == id)
            .with_context(|| format!("no member {id}"))
    }

    /// A proxy by name.
    pub fn proxy(&self, name: &str) -> anyhow::Result<&FaultProxy> {
        self.proxies
            .get(name)
            .with_context(|| format!("no proxy {name}"))
    }

    /// Cuts or heals both directions between a regional node and the hub.
    pub fn partition(&self, regional: &str, cut: bool) -> anyhow::Result<()> {
        let mode = if cut {
            crate::proxy::Mode::Cut
        } else {
            crate::proxy::Mode::Pass
        };
        self.proxy(&format!("up_{regional}"))?.set_mode(mode);
        self.proxy(&format!("down_{regional}"))?.set_mode(mode);
        Ok(())
    }
}

/// Files a report on `api`'s node; returns (tracking code, secret, id).
pub async fn file_report(api: &Api, title: &str) -> anyhow::Result<(String, String, String)> {
    let (st, body) = api
        .post_json(
            "/api/v1/reports",
            &json!({"kind": "complaint", "title": title,
                    "body": "Lampu jalan mati sejak seminggu, jalan gelap dan rawan kecelakaan.",
                    "region_code": "53.71",
                    "reporter": {"name": "Maria Ndun", "phone": "081234567890"}}),
        )
        .await?;
    anyhow::ensure!(st.as_u16() == 201, "filing: {st} {body}");
    Ok((
        body["tracking_code"].as_str().context("code")?.to_owned(),
        body["tracking_secret"]
            .as_str()
            .context("secret")?
            .to_owned(),
        body["id"].as_str().context("id")?.to_owned(),
    ))
}

/// A report as an admin of `api`'s node sees it, if it is there.
pub async fn report(api: &Api, code: &str) -> anyhow::Result<Option<Value>> {
    let (st, body) = api.get_json(&format!("/api/v1/reports/{code}")).await?;
    match st.as_u16() {
        200 => Ok(Some(body)),
        404 => Ok(None),
        _ => bail!("GET report {code}: {st} {body}"),
    }
}

/// Waits until `api`'s node shows the report with `status`.
pub async fn wait_status(
    api: &Api,
    code: &str,
    status: &str,
    limit: Duration,
) -> anyhow::Result<Value> {
    wait_for(
        &format!("report {code} to be {status} at {}", api.base()),
        limit,
        Duration::from_millis(100),
        || async move {
            Ok(report(api, code)
                .await?
                .filter(|r| r["status"].as_str() == Some(status)))
        },
    )
    .await
}

/// The data directory's current signing key file (for forging tests).
pub fn signing_key_hex(dir: &Path) -> anyhow::Result<String> {
    let keys = dir.join("keys");
    let current = std::fs::read_to_string(keys.join("current"))?;
    Ok(std::fs::read_to_string(
        keys.join(format!("{}.ed25519", current.trim())),
    )?)
}
