//! The node: the one context every layer below the application shares. It holds the configuration, the
//! store, the clock, the working-day calendar, the federation state (keys, peers, wake-ups, counters) and the
//! router, and nothing that knows about HTTP, pages or viewers. The federation engine, the workers, the CLI
//! and the benchmark take a [`Node`]; the surfaces (JSON API, web, SMS, Open311) go through
//! [`crate::app::App`], which wraps one.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::config::{Config, NodeRole};
use crate::domain::{calendar, Clock, Millis, WorkCalendar};
use crate::federation::Federation;
use crate::routing::Router;
use crate::storage::{DynStore, PeerRecord, StorageError};

/// The node context; cheap to clone.
#[derive(Clone)]
pub struct Node(Arc<NodeInner>);

/// Inside of [`Node`].
pub struct NodeInner {
    /// Configuration.
    pub config: Config,
    /// Storage.
    pub store: DynStore,
    /// Working-day calendar in the node's zone.
    pub calendar: WorkCalendar,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Keys, peers and sync state.
    pub fed: Arc<Federation>,
    /// Where new reports belong.
    pub router: Router,
    /// Leases of the workers that must run once per node (several processes on one PostgreSQL).
    pub leases: crate::leases::Leases,
}

impl std::ops::Deref for Node {
    type Target = NodeInner;
    fn deref(&self) -> &NodeInner {
        &self.0
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.config.node.id)
            .field("role", &self.config.node.role)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Builds the node from its parts: loads (or on first start generates) the keys, the shipped and
    /// configured holidays, and the boundary file.
    pub fn new(config: Config, store: DynStore, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let mut holidays: Vec<NaiveDate> = calendar::shipped_holidays()
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .map(|h| h.date)
            .collect();
        holidays.extend(config.calendar.extra_holidays.iter().copied());
        let calendar = WorkCalendar::new(config.node.timezone, holidays);
        let fed = Arc::new(Federation::open(&config)?);
        // Reporter identities are sealed to this node's key in the database (storage::identity).
        store.set_identity_cipher(Arc::new(crate::federation::at_rest::AtRest(fed.clone())));
        let router = Router::open(&config)?;
        let leases = crate::leases::Leases::new(
            &config.node.id,
            store.backend(),
            std::time::Duration::from_millis(config.cluster.lease_ms),
        );
        Ok(Self(Arc::new(NodeInner {
            config,
            store,
            calendar,
            clock,
            fed,
            router,
            leases,
        })))
    }

    /// Migrates the database and registers this node's current key (what every command needs).
    pub async fn init(&self) -> anyhow::Result<()> {
        self.store.migrate().await?;
        let sealed = self.store.identities_seal_plaintext().await?;
        if sealed > 0 {
            tracing::info!(
                identities = sealed,
                "reporter identities written before encryption at rest are now sealed"
            );
        }
        self.fed.init(&self.store).await
    }

    /// Whether this process may run worker `lease` now ([`crate::leases`]).
    pub async fn lease(&self, lease: &str) -> bool {
        self.leases.hold(&self.store, lease).await.is_held()
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.fed.node_id
    }

    /// Whether this node is the national hub.
    pub fn is_hub(&self) -> bool {
        self.fed.role == NodeRole::Hub
    }

    /// Now.
    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// A stored time in the node's zone.
    pub fn time(&self, ms: Millis) -> DateTime<FixedOffset> {
        self.calendar.zone().datetime(ms)
    }

    /// The node that owns a report: the held ownership, else the origin of its id.
    pub async fn owner_of(&self, report_id: &str) -> Result<String, StorageError> {
        Ok(self.owner_from(
            self.store.report_owner(report_id).await?.as_ref(),
            report_id,
        ))
    }

    /// The owner of a report given its ownership row as read (none: the report id's origin, at epoch 0).
    pub fn owner_from(&self, held: Option<&crate::storage::OwnerRow>, report_id: &str) -> String {
        match held {
            Some(o) => o.owner.clone(),
            None => report_id
                .split_once(':')
                .map_or_else(|| self.fed.node_id.clone(), |(n, _)| n.to_owned()),
        }
    }

    /// Whether this node owns a report.
    pub async fn owns(&self, report_id: &str) -> Result<bool, StorageError> {
        Ok(self.owner_of(report_id).await? == self.fed.node_id)
    }

    /// The time zone a node runs on: this node's `node.timezone`, another node's from the regions the directory
    /// lists for it (none when it serves no known region).
    pub fn zone_of_node(&self, node_id: &str) -> Option<crate::domain::NodeZone> {
        if node_id == self.fed.node_id {
            return Some(self.calendar.zone());
        }
        let peer = self.fed.peer(node_id)?;
        crate::domain::zones::regions_zone(peer.region_codes.iter().map(String::as_str))
    }

    /// A node's name as this node knows it (its id when unknown).
    pub fn node_name(&self, node_id: &str) -> String {
        if node_id == self.fed.node_id {
            return self.config.node.name.clone();
        }
        self.fed
            .peer(node_id)
            .map_or_else(|| node_id.to_owned(), |p| p.name)
    }

    /// The hub this node knows as a peer (none on the hub itself).
    pub fn hub_peer(&self) -> Option<PeerRecord> {
        self.fed.peers.read().ok().and_then(|p| {
            p.iter()
                .find(|p| p.role == "hub" && p.node_id != self.fed.node_id)
                .cloned()
        })
    }
}
