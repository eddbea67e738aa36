//! Accounts: login and sessions, API tokens, the one-time bootstrap of the first admin, reporter
//! self-registration and account management. Passwords are argon2id (hashed off the async threads); tokens
//! and secrets are kept only as sha256.

use lapor_schemas::api as wire;
use lapor_schemas::Role;

use super::validate::{check_account, check_password, clean, Checker};
use super::{App, AppError, AppResult, Viewer};
use crate::domain::{access, tracking, Millis, SessionRecord, UserRecord, UserRef};
use crate::storage::StorageError;

/// Meta key under which the sha256 of the one-time bootstrap secret waits for the first admin.
pub const BOOTSTRAP_KEY: &str = "bootstrap_secret_sha256";

fn hash_password(password: &str) -> AppResult<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// How stale a session's last-use time may get before a request writes it again.
const TOUCH_EVERY_MS: Millis = 60 * 1000;

/// A fixed argon2id hash to verify against when the username does not exist, so both cases take as long.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3ywE3AqEDN1iKnUOuR4rWG6Vgkx0QoZ6l2TTbAqAdXw";

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))
}

async fn hash_password_blocking(password: String) -> AppResult<String> {
    blocking(move || hash_password(&password)).await?
}

/// An account as the audit log names its actor.
fn actor_of(u: &UserRecord) -> (&str, &str, Role) {
    (u.id.as_str(), u.display_name.as_str(), u.role)
}

/// The wire view of an account.
pub fn user_view(u: &UserRecord) -> wire::User {
    wire::User {
        id: u.id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role: u.role,
        agency_id: u.agency_id.clone(),
        active: u.active,
        email: u.email.clone(),
        phone: u.phone.clone(),
        notices: !u.notices_off,
    }
}

/// A contact field as given: trimmed, `""` meaning none.
fn contact(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl App {
    /// When no account exists yet: a fresh one-time bootstrap secret (only its hash is stored).
    pub(super) async fn bootstrap_secret(&self) -> AppResult<Option<String>> {
        let store = &self.node.store;
        if store.user_count().await? > 0 {
            return Ok(None);
        }
        let secret = tracking::new_secret();
        store
            .meta_put(BOOTSTRAP_KEY, &tracking::sha256_hex(&secret))
            .await?;
        Ok(Some(secret))
    }

    async fn user_ref(&self, user: &UserRecord) -> AppResult<UserRef> {
        let agency_path = match &user.agency_id {
            Some(id) => self.node.store.agency_get(id).await?.map(|a| a.path),
            None => None,
        };
        Ok(UserRef {
            id: user.id.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            agency_id: user.agency_id.clone(),
            agency_path,
        })
    }

    /// The viewer a bearer token or session cookie stands for (`Public` when unknown or expired).
    pub async fn viewer_for_token(&self, token: &str) -> AppResult<Option<Viewer>> {
        let hash = tracking::sha256_hex(token);
        let now = self.now();
        let store = &self.node.store;
        let Some((session, user)) = store.session_lookup(&hash, now).await? else {
            return Ok(None);
        };
        if session.kind == "session" {
            let sec = &self.node.config.security;
            let idle_mins = if user.role.is_staff() {
                sec.idle_timeout_mins
            } else {
                sec.reporter_idle_timeout_mins
            };
            if now - session.last_seen_at > idle_mins * 60 * 1000 {
                store.session_delete(&hash).await?;
                tracing::info!(user.id = %user.id, idle_mins, "session ended after being idle");
                return Ok(None);
            }
            // One write a minute at most per session, not one per request.
            if now - session.last_seen_at >= TOUCH_EVERY_MS {
                store.session_touch(&hash, now).await?;
            }
        }
        Ok(Some(Viewer::User {
            user: self.user_ref(&user).await?,
            api_token: session.kind == "api_token",
            token_hash: hash,
        }))
    }

    /// Checks a password and opens a session.
    pub async fn login(&self, req: wire::LoginRequest) -> AppResult<wire::TokenResponse> {
        let username = req.username.trim().to_lowercase();
        let now = self.now();
        if let Some(secs) = self.guard.locked(&username, now) {
            return Err(AppError::Locked(secs));
        }
        let user = self
            .node
            .store
            .user_by_username(req.username.trim())
            .await?;
        let hash = user
            .as_ref()
            .map_or_else(|| DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
        let password = req.password;
        let ok = blocking(move || verify_password(&password, &hash)).await?;
        let user = match user {
            Some(u) if ok && u.active => u,
            other => {
                let locked = self.guard.failed(&username, now);
                let actor = other
                    .as_ref()
                    .map(|u| (u.id.as_str(), u.display_name.as_str(), u.role));
                let detail = locked.map(|secs| format!("account locked for {secs} s"));
                self.audit_as_after(actor, "login.failed", ("user", &username), detail)
                    .await;
                return Err(AppError::BadCredentials);
            }
        };
        self.guard.succeeded(&username);
        let hours = self.node.config.http.session_hours;
        let token = self
            .issue_token(&user, "session", None, hours * 3600 * 1000)
            .await?;
        self.audit_as_after(Some(actor_of(&user)), "login", ("user", &user.id), None)
            .await;
        Ok(token)
    }

    async fn issue_token(
        &self,
        user: &UserRecord,
        kind: &str,
        label: Option<String>,
        lifetime_ms: i64,
    ) -> AppResult<wire::TokenResponse> {
        let token = tracking::new_token();
        let now = self.now();
        let session = SessionRecord {
            token_hash: tracking::sha256_hex(&token),
            user_id: user.id.clone(),
            kind: kind.into(),
            label,
            created_at: now,
            expires_at: now + lifetime_ms,
            last_seen_at: now,
        };
        self.node.store.session_create(&session).await?;
        Ok(wire::TokenResponse {
            token,
            expires_at: self.time(session.expires_at),
            user: user_view(user),
        })
    }

    /// Ends the session of `token`.
    pub async fn logout(&self, token: &str) -> AppResult<()> {
        Ok(self
            .node
            .store
            .session_delete(&tracking::sha256_hex(token))
            .await?)
    }

    /// An API token for an integration, owned by the viewer.
    pub async fn create_api_token(
        &self,
        viewer: &Viewer,
        req: wire::CreateTokenRequest,
    ) -> AppResult<wire::TokenResponse> {
        let me = viewer.require()?;
        let mut c = Checker::new();
        c.text("label", &req.label, 1, 100);
        let days = req.days.unwrap_or(90);
        if !(1..=365).contains(&days) {
            c.fail(
                "days",
                "out_of_range",
                "antara 1 dan 365 / between 1 and 365",
            );
        }
        c.finish()?;
        let user = self
            .node
            .store
            .user_get(&me.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let label = req.label.trim().to_owned();
        let token = self
            .issue_token(&user, "api_token", Some(req.label), days * 24 * 3600 * 1000)
            .await?;
        self.audit_after(
            viewer,
            "token.create",
            ("user", &user.id),
            Some(format!("label {label}, {days} days")),
        )
        .await;
        Ok(token)
    }

    /// Opens a reporter account; the citizen's reports filed while logged in are listed as theirs.
    pub async fn register(&self, req: wire::RegisterRequest) -> AppResult<wire::User> {
        let mut c = Checker::new();
        check_account(&mut c, &req.username, &req.password, &req.display_name);
        c.finish()?;
        let user = self
            .new_account(
                req.username,
                req.password,
                &req.display_name,
                Role::Reporter,
                None,
            )
            .await?;
        self.insert_account(&user).await?;
        self.audit_as_after(
            Some(actor_of(&user)),
            "user.register",
            ("user", &user.id),
            None,
        )
        .await;
        Ok(user_view(&user))
    }

    /// A new active account record; the password is hashed off the async threads.
    async fn new_account(
        &self,
        username: String,
        password: String,
        display_name: &str,
        role: Role,
        agency_id: Option<String>,
    ) -> AppResult<UserRecord> {
        Ok(UserRecord {
            id: tracking::new_local_id(),
            username,
            password_hash: hash_password_blocking(password).await?,
            display_name: display_name.trim().to_owned(),
            role,
            agency_id,
            active: true,
            created_at: self.now(),
            email: None,
            phone: None,
            notices_off: false,
        })
    }

    /// Stores a new account; a taken username is a conflict that names it.
    async fn insert_account(&self, user: &UserRecord) -> AppResult<()> {
        self.node
            .store
            .user_create(user)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => {
                    AppError::Conflict(format!("username `{}` is taken", user.username))
                }
                other => other.into(),
            })
    }

    /// Creates the first admin with the one-time bootstrap secret.
    pub async fn bootstrap(&self, req: wire::BootstrapRequest) -> AppResult<wire::User> {
        let mut c = Checker::new();
        check_account(&mut c, &req.username, &req.password, &req.display_name);
        c.finish()?;
        let user = self
            .new_account(
                req.username,
                req.password,
                &req.display_name,
                Role::Admin,
                None,
            )
            .await?;
        match self
            .node
            .store
            .bootstrap_admin(&tracking::sha256_hex(&req.secret), &user)
            .await
        {
            Ok(()) => {
                self.audit_as_after(
                    Some(actor_of(&user)),
                    "user.bootstrap",
                    ("user", &user.id),
                    None,
                )
                .await;
                Ok(user_view(&user))
            }
            Err(StorageError::Conflict(_)) => {
                self.audit_as_after(None, "bootstrap.failed", ("user", &user.username), None)
                    .await;
                Err(AppError::BadBootstrapSecret)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates an account (admins and node operators).
    pub async fn create_user(
        &self,
        viewer: &Viewer,
        req: wire::CreateUser,
    ) -> AppResult<wire::User> {
        let me = viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        if me.role != Role::Admin && access::reads_identities(req.role) {
            return Err(AppError::Forbidden(format!(
                "only an admin may create {} accounts: they can read reporter identities",
                req.role.as_str()
            )));
        }
        let mut c = Checker::new();
        check_account(&mut c, &req.username, &req.password, &req.display_name);
        let (email, phone) = (contact(req.email), contact(req.phone));
        super::validate::check_contact(&mut c, "", phone.as_ref(), email.as_ref());
        let agency_id = clean(req.agency_id);
        match (req.role.is_agency_scoped(), &agency_id) {
            (true, None) => c.fail(
                "agency_id",
                "required",
                "wajib untuk peran ini / required for this role",
            ),
            (false, Some(_)) => c.fail(
                "agency_id",
                "not_allowed",
                "hanya untuk agency_officer dan executive / only for agency_officer and executive",
            ),
            (true, Some(id)) if self.node.store.agency_get(id).await?.is_none() => {
                c.fail(
                    "agency_id",
                    "unknown",
                    "instansi tidak dikenal / unknown agency",
                );
            }
            _ => {}
        }
        c.finish()?;
        let mut user = self
            .new_account(
                req.username,
                req.password,
                &req.display_name,
                req.role,
                agency_id,
            )
            .await?;
        user.email = email;
        user.phone = phone;
        self.insert_account(&user).await?;
        let scope = user
            .agency_id
            .as_ref()
            .map_or_else(String::new, |a| format!(" of {a}"));
        self.audit_after(
            viewer,
            "user.create",
            ("user", &user.id),
            Some(format!("{} {}{scope}", user.username, user.role.as_str())),
        )
        .await;
        Ok(user_view(&user))
    }

    /// Changes an account; a user may change their own name and password, admins anything.
    pub async fn update_user(
        &self,
        viewer: &Viewer,
        id: &str,
        req: wire::UpdateUser,
    ) -> AppResult<wire::User> {
        let me = viewer.require()?;
        let is_manager = matches!(me.role, Role::Admin | Role::NodeOperator);
        if !is_manager && (me.id != id || req.active.is_some()) {
            return Err(AppError::Forbidden(
                "only admins may change other accounts".into(),
            ));
        }
        let mut user = self
            .node
            .store
            .user_get(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if me.id != id && me.role != Role::Admin && access::reads_identities(user.role) {
            return Err(AppError::Forbidden(format!(
                "only an admin may change {} accounts: they can read reporter identities",
                user.role.as_str()
            )));
        }
        let mut c = Checker::new();
        c.opt_text("display_name", req.display_name.as_ref(), 100);
        if let Some(p) = &req.password {
            check_password(&mut c, p, &user.username);
        }
        let email = req.email.map(|e| contact(Some(e)));
        let phone = req.phone.map(|p| contact(Some(p)));
        super::validate::check_contact(
            &mut c,
            "",
            phone.as_ref().and_then(Option::as_ref),
            email.as_ref().and_then(Option::as_ref),
        );
        c.finish()?;
        let mut contact_changed = Vec::new();
        if let Some(email) = email {
            user.email = email;
            contact_changed.push("email".to_owned());
        }
        if let Some(phone) = phone {
            user.phone = phone;
            contact_changed.push("phone".to_owned());
        }
        if let Some(on) = req.notices {
            user.notices_off = !on;
            contact_changed.push(format!("notices={on}"));
        }
        // The addresses themselves stay out of the audit log: it names only what changed.
        let mut changed = contact_changed;
        if let Some(name) = req.display_name {
            name.trim().clone_into(&mut user.display_name);
            changed.push("display_name".to_owned());
        }
        let new_password = req.password.is_some();
        if let Some(p) = req.password {
            user.password_hash = hash_password_blocking(p).await?;
            changed.push("password".to_owned());
        }
        if let Some(active) = req.active {
            user.active = active;
            changed.push(format!("active={active}"));
        }
        self.node.store.user_update(&user).await?;
        if new_password {
            // A new password ends every other way in: sessions and API tokens (an attacker's too). The
            // account changing its own password keeps the session it did so with.
            let keep = (me.id == id).then(|| viewer.token_hash()).flatten();
            let ended = self
                .node
                .store
                .sessions_end_for_user(&user.id, keep)
                .await?;
            changed.push(format!("{ended} sessions and tokens ended"));
        }
        self.audit_after(
            viewer,
            "user.update",
            ("user", &user.id),
            Some(changed.join(", ")),
        )
        .await;
        Ok(user_view(&user))
    }

    /// Every account (admins and node operators).
    pub async fn list_users(&self, viewer: &Viewer) -> AppResult<Vec<wire::User>> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        Ok(self
            .node
            .store
            .user_list()
            .await?
            .iter()
            .map(user_view)
            .collect())
    }

    /// The viewer's own account.
    pub async fn me(&self, viewer: &Viewer) -> AppResult<wire::User> {
        let me = viewer.require()?;
        let user = self
            .node
            .store
            .user_get(&me.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(user_view(&user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_parses() {
        assert!(!verify_password("x", DUMMY_HASH));
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
    }
}

/// Failed logins per username, in memory: after [`LoginGuard::FREE_FAILURES`] in a row the account is locked,
/// first for a minute, doubling with every further failure up to an hour, whatever password comes next. A
/// successful login clears it. (Rate limits per address are in `http::limit`.)
#[derive(Default)]
pub struct LoginGuard {
    failures: std::sync::Mutex<std::collections::HashMap<String, (u32, Millis)>>,
}

impl LoginGuard {
    /// Failures before the first lock.
    pub const FREE_FAILURES: u32 = 5;
    const MAX_LOCK_MS: Millis = 60 * 60 * 1000;
    const MAX_ENTRIES: usize = 100_000;

    /// Seconds the account stays locked, if it is.
    pub fn locked(&self, username: &str, now: Millis) -> Option<u64> {
        let f = self.failures.lock().ok()?;
        let (_, until) = f.get(username)?;
        (*until > now).then(|| u64::try_from((*until - now + 999) / 1000).unwrap_or(1))
    }

    /// Records a failed login; the seconds the account is now locked for, when it is.
    pub fn failed(&self, username: &str, now: Millis) -> Option<i64> {
        let Ok(mut f) = self.failures.lock() else {
            return None;
        };
        if f.len() >= Self::MAX_ENTRIES {
            f.retain(|_, (_, until)| *until > now);
        }
        let e = f.entry(username.to_owned()).or_insert((0, 0));
        e.0 += 1;
        if e.0 >= Self::FREE_FAILURES {
            let step = e.0 - Self::FREE_FAILURES;
            let lock = (60_000_i64 << step.min(10)).min(Self::MAX_LOCK_MS);
            e.1 = now + lock;
            tracing::warn!(user.name = %username, failures = e.0, lock_s = lock / 1000, "account locked after failed logins");
            return Some(lock / 1000);
        }
        None
    }

    /// A successful login.
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(username);
        }
    }
}
