//! The audit log: who did what, when and from where, for every officer and admin action on a report, every
//! account change (logins, failed logins, tokens, passwords, roles) and every read of a reporter's identity.
//! Lines are appended through [`App::audit`] and never changed (the storage refuses it, see
//! [`crate::storage::AuditStore`]); admins and auditors read them as JSON or CSV.
//!
//! The client address comes from the HTTP edge through the task-local [`CLIENT`] (set by a middleware for
//! every request), so no application call needs another parameter; calls outside a request (the CLI, the
//! workers) record none.
//!
//! A read of an identity is recorded before the identity is shown, and the read fails when the line cannot be
//! stored (no unrecorded read). A change is recorded after it was committed; when that fails the change
//! stands and the failure is logged at error level (the answer the client needs is the change's).

use std::net::IpAddr;

use lapor_schemas::api as wire;
use lapor_schemas::Role;

use super::{App, AppError, AppResult, Viewer};
use crate::domain::{access, Millis};
use crate::storage::{AuditEntry, AuditFilter};

tokio::task_local! {
    /// The client address of the request being served (set by the HTTP layer).
    pub static CLIENT: Option<IpAddr>;
}

/// The client address of the current request, if there is one.
fn client_ip() -> Option<String> {
    CLIENT
        .try_with(|ip| ip.map(|ip| ip.to_string()))
        .ok()
        .flatten()
}

/// Most lines one JSON page holds.
pub const MAX_PAGE: i64 = 500;
/// Most lines one CSV export holds.
pub const MAX_EXPORT: i64 = 100_000;

/// What an audit query asks for (validated by the surface).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this actor (account id).
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this target id.
    pub target: Option<String>,
    /// At or after (ms).
    pub since: Option<Millis>,
    /// Before (ms).
    pub until: Option<Millis>,
    /// Lines older than this id.
    pub before: Option<i64>,
    /// Most lines.
    pub limit: i64,
}

impl App {
    /// Appends one line for `viewer` doing `action` to `(kind, id)`. See the module doc for when it fails.
    pub(super) async fn audit(
        &self,
        viewer: &Viewer,
        action: &str,
        target: (&str, &str),
        detail: Option<String>,
    ) -> AppResult<()> {
        let actor = viewer
            .user()
            .map(|u| (u.id.as_str(), u.display_name.as_str(), u.role));
        self.audit_as(actor, action, target, detail).await
    }

    /// Appends one line for an actor given by (id, name, role), or none.
    pub(super) async fn audit_as(
        &self,
        actor: Option<(&str, &str, Role)>,
        action: &str,
        target: (&str, &str),
        detail: Option<String>,
    ) -> AppResult<()> {
        let entry = AuditEntry {
            id: 0,
            at: self.now(),
            actor_id: actor.map(|a| a.0.to_owned()),
            actor_name: actor.map(|a| a.1.to_owned()),
            actor_role: actor.map(|a| a.2.as_str().to_owned()),
            action: action.to_owned(),
            target_kind: Some(target.0.to_owned()),
            target_id: Some(target.1.to_owned()),
            detail,
            ip: client_ip(),
        };
        self.node.store.audit_append(&entry).await?;
        Ok(())
    }

    /// [`App::audit_as`] after a committed change or for a failure: a storage failure is logged, not returned.
    pub(super) async fn audit_as_after(
        &self,
        actor: Option<(&str, &str, Role)>,
        action: &str,
        target: (&str, &str),
        detail: Option<String>,
    ) {
        if let Err(e) = self.audit_as(actor, action, target, detail).await {
            tracing::error!(audit.action = action, target.id = target.1, error = %e, "audit line could not be stored");
        }
    }

    /// [`App::audit`] after a committed change: a failure is logged, not returned.
    pub(super) async fn audit_after(
        &self,
        viewer: &Viewer,
        action: &str,
        target: (&str, &str),
        detail: Option<String>,
    ) {
        if let Err(e) = self.audit(viewer, action, target, detail).await {
            tracing::error!(audit.action = action, target.id = target.1, error = %e, "audit line could not be stored");
        }
    }

    fn audit_filter(query: &AuditQuery, max: i64) -> AuditFilter {
        AuditFilter {
            actor_id: query.actor.clone(),
            action: query.action.clone(),
            target_id: query.target.clone(),
            since: query.since,
            until: query.until,
            before_id: query.before,
            limit: query.limit.clamp(1, max),
        }
    }

    fn audit_view(&self, e: AuditEntry) -> wire::AuditEntry {
        wire::AuditEntry {
            id: e.id,
            at: self.time(e.at),
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            actor_role: e.actor_role,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            detail: e.detail,
            ip: e.ip,
        }
    }

    /// A page of the audit log, newest first (admins and auditors).
    pub async fn audit_list(
        &self,
        viewer: &Viewer,
        query: &AuditQuery,
    ) -> AppResult<wire::AuditPage> {
        Self::require_audit_reader(viewer)?;
        let filter = Self::audit_filter(query, MAX_PAGE);
        let rows = self.node.store.audit_list(&filter).await?;
        let next_before = (rows.len() as i64 == filter.limit)
            .then(|| rows.last().map(|e| e.id))
            .flatten();
        Ok(wire::AuditPage {
            items: rows.into_iter().map(|e| self.audit_view(e)).collect(),
            next_before,
        })
    }

    /// The audit log as CSV (admins and auditors); the export itself is recorded.
    pub async fn audit_csv(&self, viewer: &Viewer, query: &AuditQuery) -> AppResult<String> {
        Self::require_audit_reader(viewer)?;
        let filter = Self::audit_filter(query, MAX_EXPORT);
        let rows = self.node.store.audit_list(&filter).await?;
        self.audit(
            viewer,
            "audit.export",
            ("audit", "csv"),
            Some(format!("{} lines", rows.len())),
        )
        .await?;
        let mut out = String::from(
            "id,at,actor_id,actor_name,actor_role,action,target_kind,target_id,detail,ip\r\n",
        );
        for e in rows {
            let at = self.time(e.at).to_rfc3339();
            let id = e.id.to_string();
            let fields = [
                Some(id.as_str()),
                Some(at.as_str()),
                e.actor_id.as_deref(),
                e.actor_name.as_deref(),
                e.actor_role.as_deref(),
                Some(e.action.as_str()),
                e.target_kind.as_deref(),
                e.target_id.as_deref(),
                e.detail.as_deref(),
                e.ip.as_deref(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f.unwrap_or(""))).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        Ok(out)
    }

    fn require_audit_reader(viewer: &Viewer) -> AppResult<()> {
        let me = viewer.require()?;
        if access::reads_audit(me.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "role {} may not read the audit log",
                me.role.as_str()
            )))
        }
    }
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`, `@`
/// gets a `'` so a spreadsheet never runs it as a formula (a display name is user input).
pub fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
    }
}
