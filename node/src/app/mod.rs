//! The application: what every surface (JSON API, web pages, SMS, Open311) calls, split by concern.
//!
//! It validates input, decides who may see and do what (roles, agency subtrees, tracking secrets, privacy
//! flags, with the rules in [`crate::domain::access`]), runs the pure domain and hands the outcome to the
//! [`Node`] below (storage, and the federation engine that signs and sends every change). Handlers stay thin
//! translations; they never reach the store or the federation state themselves.
//!
//! | file | concern |
//! | --- | --- |
//! | `error.rs` | [`AppError`], and the translation of storage and federation errors |
//! | `viewer.rs` | [`Viewer`]: who is asking |
//! | `validate.rs` | field checks shared by every form and body |
//! | `accounts.rs` | login, sessions (idle timeout), API tokens, bootstrap, accounts |
//! | `audit.rs` | the append-only audit log: recording, reading, CSV export |
//! | `agencies.rs` | agencies and categories, dispositions' agency check |
//! | `intake.rs` | [`Intake`] and [`App::submit`]: one way in for every channel |
//! | `reports.rs` | finding, loading, acting on and listing reports |
//! | `views.rs` | what a viewer sees of a report |
//! | `stats.rs` | counts for dashboards and the public page |
//! | `accountability.rs` | figures per agency and node, ratings, recaps, emerging issues (issue 15) |
//! | `transfers.rs` | an admin moving a report to another node |
//! | `ombudsman.rs` | the Ombudsman escalation: early escalation, the reporter's consent, the handoff |
//! | `attachments.rs` | files of a report |
//! | `contact.rs` | a reporter proven by their phone (the SMS channel) instead of the tracking secret |
//! | `status.rs` | readiness and the federation snapshot for `/metrics` |

mod accountability;
mod accounts;
mod agencies;
mod attachments;
pub mod audit;
mod contact;
mod error;
mod intake;
mod notifications;
mod ombudsman;
mod reports;
mod stats;
mod status;
mod transfers;
mod validate;
mod viewer;
mod views;

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

pub use self::accountability::{first_working_day, RecapFormat};
pub use self::accounts::{user_view, BOOTSTRAP_KEY};
pub use self::agencies::{agency_view, default_categories, AGENCY_KINDS};
pub use self::audit::AuditQuery;
pub use self::error::{transfer_refusal_text, AppError, AppResult};
pub use self::intake::Intake;
pub use self::reports::Disposition;
pub use self::viewer::Viewer;
pub use self::views::parse_order;
use crate::config::Config;
pub use crate::domain::Access;
use crate::domain::{Clock, Millis};
use crate::node::Node;
use crate::storage::DynStore;

/// The application state shared by every request; cheap to clone.
#[derive(Clone)]
pub struct App {
    node: Node,
    guard: Arc<accounts::LoginGuard>,
}

impl App {
    /// Builds the application and the node below it from its parts.
    pub fn new(config: Config, store: DynStore, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Ok(Self::from_node(Node::new(config, store, clock)?))
    }

    /// The application over an existing node.
    pub fn from_node(node: Node) -> Self {
        Self {
            node,
            guard: Arc::default(),
        }
    }

    /// The node below: for the workers and the CLI that start it. Surfaces call the methods of `App`.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.node.config
    }

    /// Migrates, seeds the default categories, and when no account exists yet returns a fresh one-time
    /// bootstrap secret (only its hash is stored) for the operator to create the first admin with.
    pub async fn init(&self) -> AppResult<Option<String>> {
        self.init_storage().await?;
        self.bootstrap_secret().await
    }

    /// Migrates, registers this node's key and seeds the default categories (what every command needs;
    /// [`App::init`] also prepares the bootstrap).
    pub async fn init_storage(&self) -> AppResult<()> {
        self.node.init().await?;
        self.node.store.category_seed(&default_categories()).await?;
        Ok(())
    }

    /// Now.
    pub fn now(&self) -> Millis {
        self.node.now()
    }

    /// A stored time in the node's zone.
    pub fn time(&self, ms: Millis) -> DateTime<FixedOffset> {
        self.node.time(ms)
    }

    /// The zone a report is shown in: its owner's (see [`Node::zone_of_node`]), else its region's, else this
    /// node's.
    pub fn report_zone(&self, owner: &str, region_code: Option<&str>) -> crate::domain::NodeZone {
        self.node
            .zone_of_node(owner)
            .or_else(|| region_code.and_then(crate::domain::zones::region_zone))
            .unwrap_or_else(|| self.node.calendar.zone())
    }

    /// A node's name as this node knows it (its id when unknown).
    pub fn node_name(&self, node_id: &str) -> String {
        self.node.node_name(node_id)
    }

    /// One pass of the deadline worker at the current time (see [`crate::workers::run_deadlines`]).
    pub async fn run_deadlines(&self) -> AppResult<usize> {
        Ok(crate::workers::run_deadlines(&self.node).await?)
    }
}
