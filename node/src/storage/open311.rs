//! [`Open311Store`]: what the Open311 GeoReport v2 surface needs beyond the report concern: the API keys of
//! client apps (only their sha256 is kept), the request query with the specification's filters, and the
//! timeline entries the `servicerequestupdates` feed reads by time. Confidential reports are never returned
//! by either query; both backends implement the same filters (the conformance suite checks them).

use async_trait::async_trait;
use lapor_schemas::ReportStatus;

use super::Result;
use crate::domain::{Millis, Report, TimelineRecord};

/// An API key of one Open311 client app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open311Key {
    /// Short public id (`o311_…`), shown in lists and used to revoke it.
    pub id: String,
    /// Hex sha256 of the key itself.
    pub key_hash: String,
    /// The client app it was issued to.
    pub app_name: String,
    /// Who runs that app (e-mail or a name).
    pub contact: Option<String>,
    /// Who issued it (a user id, or `cli`).
    pub created_by: String,
    /// Issued at.
    pub created_at: Millis,
    /// Revoked at; a revoked key is refused.
    pub revoked_at: Option<Millis>,
}

/// The filters of `GET requests` (GeoReport v2), already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestQuery {
    /// Tracking codes; when given, every other filter is ignored (the specification says so).
    pub tracking_codes: Vec<String>,
    /// Category ids (service codes); empty: any.
    pub categories: Vec<String>,
    /// Statuses that map onto the requested Open311 statuses; empty: any.
    pub statuses: Vec<ReportStatus>,
    /// Filed at or after.
    pub from: Millis,
    /// Filed at or before.
    pub to: Millis,
    /// Most rows returned, newest first.
    pub limit: i64,
}

/// Open311 API keys, requests and updates.
#[async_trait]
pub trait Open311Store: Send + Sync + 'static {
    /// Stores a new key. `Conflict` when the id or hash is taken.
    async fn open311_key_create(&self, key: &Open311Key) -> Result<()>;
    /// Every key, newest first.
    async fn open311_key_list(&self) -> Result<Vec<Open311Key>>;
    /// The key with this hash (revoked or not).
    async fn open311_key_by_hash(&self, key_hash: &str) -> Result<Option<Open311Key>>;
    /// Revokes a key; `false` when there is no such key or it was revoked already.
    async fn open311_key_revoke(&self, id: &str, now: Millis) -> Result<bool>;
    /// Non-confidential, non-archived reports the query selects, newest first (by tracking code: also
    /// archived ones, never confidential ones).
    async fn open311_requests(&self, query: &RequestQuery) -> Result<Vec<Report>>;
    /// Timeline entries (after the first, the filing) of non-confidential reports made in `from..=to`,
    /// oldest first, at most `limit`.
    async fn open311_updates(
        &self,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> Result<Vec<TimelineRecord>>;
}
