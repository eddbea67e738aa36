//! The application: what every surface (JSON API, web pages, SMS, Open311) calls.
//!
//! It validates input, decides who may see and do what (roles, agency subtrees, tracking secrets, privacy
//! flags), runs the pure lifecycle and hands the outcome to storage. Handlers stay thin translations.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use lapor_schemas::api as wire;
use lapor_schemas::problem::FieldError;
use lapor_schemas::{Channel, ReportStatus, Role, TimelineAction};

use crate::config::{Config, NodeRole};
use crate::domain::lifecycle::{self, AgencyTarget};
use crate::domain::{
    calendar, tracking, Actor, AgencyRecord, Clock, Command, DomainError, Millis, Report,
    ReportFilter, ReportOrder, ReporterIdentity, SessionRecord, TimelineRecord, UserRecord,
    UserRef, WorkCalendar,
};
use crate::federation::payload::{self, ContributionPayload, IdentityRef, ReportPayload};
use crate::federation::Federation;
use crate::routing::Router;
use crate::storage::{DynStore, EventDraft, StorageError};

/// Meta key under which the sha256 of the one-time bootstrap secret waits for the first admin.
pub const BOOTSTRAP_KEY: &str = "bootstrap_secret_sha256";

/// Errors of the application layer; the HTTP edge turns each into a problem document.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Nothing there, or nothing this viewer may see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Login required.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong username or password.
    #[error("wrong username or password")]
    BadCredentials,
    /// Logged in, but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The tracking secret is missing or wrong.
    #[error("tracking secret missing or wrong")]
    BadSecret,
    /// The one-time bootstrap secret is wrong or was used already.
    #[error("bootstrap secret wrong or used")]
    BadBootstrapSecret,
    /// Input failed validation.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// A lifecycle rule refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Something with this key exists already.
    #[error("{0}")]
    Conflict(String),
    /// The report is owned by another node, which alone may change it.
    #[error("report is owned by node {0}")]
    NotOwner(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(StorageError),
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(m) => Self::Conflict(m),
            other => Self::Storage(other),
        }
    }
}

/// Result of application calls.
pub type AppResult<T> = Result<T, AppError>;

/// Who is asking.
#[derive(Debug, Clone, Default)]
pub enum Viewer {
    /// Nobody logged in.
    #[default]
    Public,
    /// A logged-in account (session or API token).
    User {
        /// The account.
        user: UserRef,
        /// Came with an API token rather than a browser session.
        api_token: bool,
    },
}

impl Viewer {
    /// The account, if any.
    pub fn user(&self) -> Option<&UserRef> {
        match self {
            Self::Public => None,
            Self::User { user, .. } => Some(user),
        }
    }

    /// The account, or `Unauthenticated`.
    pub fn require(&self) -> AppResult<&UserRef> {
        self.user().ok_or(AppError::Unauthenticated)
    }

    /// The account if it has one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> AppResult<&UserRef> {
        let user = self.require()?;
        if roles.contains(&user.role) {
            Ok(user)
        } else {
            Err(AppError::Forbidden(format!(
                "role {} may not do this",
                user.role.as_str()
            )))
        }
    }
}

/// How much of a report a viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: only non-confidential reports, no identity, no internal notes.
    Public,
    /// The reporter (tracking secret or their account).
    Reporter,
    /// Staff in scope; `identity` says whether the reporter identity may be shown.
    Staff {
        /// May see the reporter identity.
        identity: bool,
    },
}

/// The application state shared by every request; cheap to clone.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

/// Inside of [`App`].
pub struct AppInner {
    /// Configuration.
    pub config: Config,
    /// Storage.
    pub store: DynStore,
    /// Working-day calendar.
    pub calendar: WorkCalendar,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Keys, peers and sync state.
    pub fed: Arc<Federation>,
    /// Where new reports belong.
    pub router: Router,
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The national default categories, editable per node.
pub fn default_categories() -> Vec<wire::Category> {
    [
        (
            "infrastruktur",
            "Infrastruktur dan Pekerjaan Umum",
            "Infrastructure and Public Works",
        ),
        ("kesehatan", "Kesehatan", "Health"),
        ("pendidikan", "Pendidikan", "Education"),
        (
            "administrasi-kependudukan",
            "Administrasi Kependudukan",
            "Civil Registration",
        ),
        (
            "lingkungan-hidup",
            "Lingkungan Hidup dan Kebersihan",
            "Environment and Sanitation",
        ),
        ("transportasi", "Perhubungan dan Transportasi", "Transport"),
        ("air-bersih", "Air Bersih dan Sanitasi", "Clean Water"),
        (
            "listrik-energi",
            "Listrik dan Energi",
            "Electricity and Energy",
        ),
        ("sosial", "Sosial dan Bantuan Sosial", "Social Welfare"),
        (
            "ketertiban-umum",
            "Ketenteraman dan Ketertiban Umum",
            "Public Order",
        ),
        (
            "pelayanan-publik",
            "Pelayanan Publik dan Perizinan",
            "Public Services and Permits",
        ),
        ("kepegawaian", "Kepegawaian dan Aparatur", "Civil Servants"),
        (
            "ekonomi",
            "Ekonomi, UMKM dan Perdagangan",
            "Economy and Trade",
        ),
        (
            "pertanian",
            "Pertanian, Perikanan dan Pangan",
            "Agriculture, Fisheries and Food",
        ),
        ("bencana", "Penanggulangan Bencana", "Disaster Management"),
        ("lainnya", "Lainnya", "Other"),
    ]
    .into_iter()
    .map(|(id, name_id, name_en)| wire::Category {
        id: id.into(),
        name_id: name_id.into(),
        name_en: name_en.into(),
        active: true,
    })
    .collect()
}

struct Checker(Vec<FieldError>);

impl Checker {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn fail(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        });
    }

    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.trim().chars().count();
        if n < min {
            if n == 0 {
                self.fail(field, "required", "wajib diisi / is required");
            } else {
                self.fail(
                    field,
                    "too_short",
                    format!("minimal {min} karakter / at least {min} characters"),
                );
            }
        } else if value.chars().count() > max {
            self.fail(
                field,
                "too_long",
                format!("maksimal {max} karakter / at most {max} characters"),
            );
        }
    }

    fn opt_text(&mut self, field: &str, value: Option<&String>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, 1, max);
        }
    }

    fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

/// Kinds of agency.
pub const AGENCY_KINDS: [&str; 8] = [
    "ministry",
    "national_body",
    "bumn",
    "province",
    "regency",
    "city",
    "office",
    "unit",
];

/// Whether `code` looks like a Kemendagri region code (`53`, `53.71`, `53.71.01`, `53.71.01.1001`).
pub fn valid_region_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    let widths = [2, 2, 2, 4];
    !parts.is_empty()
        && parts.len() <= 4
        && parts
            .iter()
            .zip(widths)
            .all(|(p, w)| p.len() == w && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_agency_id(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

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

/// A fixed argon2id hash to verify against when the username does not exist, so both cases take as long.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3ywE3AqEDN1iKnUOuR4rWG6Vgkx0QoZ6l2TTbAqAdXw";

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))
}

impl App {
    /// Builds the application from its parts.
    pub fn new(config: Config, store: DynStore, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let mut holidays: Vec<NaiveDate> = calendar::shipped_holidays()
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .map(|h| h.date)
            .collect();
        holidays.extend(config.calendar.extra_holidays.iter().copied());
        let calendar = WorkCalendar::new(config.node.timezone, holidays);
        let fed = Arc::new(Federation::open(&config)?);
        let router = Router::open(&config)?;
        Ok(Self(Arc::new(AppInner {
            config,
            store,
            calendar,
            clock,
            fed,
            router,
        })))
    }

    /// Migrates, seeds the default categories, and when no account exists yet returns a fresh one-time
    /// bootstrap secret (only its hash is stored) for the operator to create the first admin with.
    pub async fn init(&self) -> AppResult<Option<String>> {
        self.init_storage().await?;
        if self.store.user_count().await? > 0 {
            return Ok(None);
        }
        let secret = tracking::new_secret();
        self.store
            .meta_put(BOOTSTRAP_KEY, &tracking::sha256_hex(&secret))
            .await?;
        Ok(Some(secret))
    }

    /// Migrates, registers this node's key and seeds the default categories (what every command needs;
    /// [`App::init`] also prepares the bootstrap).
    pub async fn init_storage(&self) -> AppResult<()> {
        self.store.migrate().await?;
        self.fed
            .init(&self.store)
            .await
            .map_err(AppError::Internal)?;
        self.store.category_seed(&default_categories()).await?;
        Ok(())
    }

    /// Now.
    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// A stored time in the node's zone.
    pub fn time(&self, ms: Millis) -> DateTime<FixedOffset> {
        self.calendar.zone().datetime(ms)
    }

    // ----- accounts -------------------------------------------------------------------------------------

    async fn user_ref(&self, user: &UserRecord) -> AppResult<UserRef> {
        let agency_path = match &user.agency_id {
            Some(id) => self.store.agency_get(id).await?.map(|a| a.path),
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
        let Some((session, user)) = self.store.session_lookup(&hash, self.now()).await? else {
            return Ok(None);
        };
        Ok(Some(Viewer::User {
            user: self.user_ref(&user).await?,
            api_token: session.kind == "api_token",
        }))
    }

    /// Checks a password and opens a session.
    pub async fn login(&self, req: wire::LoginRequest) -> AppResult<wire::TokenResponse> {
        let user = self.store.user_by_username(req.username.trim()).await?;
        let hash = user
            .as_ref()
            .map_or_else(|| DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
        let password = req.password;
        let ok = blocking(move || verify_password(&password, &hash)).await?;
        let user = match user {
            Some(u) if ok && u.active => u,
            _ => return Err(AppError::BadCredentials),
        };
        let hours = self.config.http.session_hours;
        self.issue_token(&user, "session", None, hours * 3600 * 1000)
            .await
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
        };
        self.store.session_create(&session).await?;
        Ok(wire::TokenResponse {
            token,
            expires_at: self.time(session.expires_at),
            user: user_view(user),
        })
    }

    /// Ends the session of `token`.
    pub async fn logout(&self, token: &str) -> AppResult<()> {
        Ok(self
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
            .store
            .user_get(&me.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        self.issue_token(&user, "api_token", Some(req.label), days * 24 * 3600 * 1000)
            .await
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
        })
    }

    /// Stores a new account; a taken username is a conflict that names it.
    async fn insert_account(&self, user: &UserRecord) -> AppResult<()> {
        self.store.user_create(user).await.map_err(|e| match e {
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
            .store
            .bootstrap_admin(&tracking::sha256_hex(&req.secret), &user)
            .await
        {
            Ok(()) => Ok(user_view(&user)),
            Err(StorageError::Conflict(_)) => Err(AppError::BadBootstrapSecret),
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
        if req.role == Role::Admin && me.role != Role::Admin {
            return Err(AppError::Forbidden(
                "only an admin may create admin accounts".into(),
            ));
        }
        let mut c = Checker::new();
        check_account(&mut c, &req.username, &req.password, &req.display_name);
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
            (true, Some(id)) if self.store.agency_get(id).await?.is_none() => {
                c.fail(
                    "agency_id",
                    "unknown",
                    "instansi tidak dikenal / unknown agency",
                );
            }
            _ => {}
        }
        c.finish()?;
        let user = self
            .new_account(
                req.username,
                req.password,
                &req.display_name,
                req.role,
                agency_id,
            )
            .await?;
        self.insert_account(&user).await?;
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
            .store
            .user_get(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if user.role == Role::Admin && me.role != Role::Admin {
            return Err(AppError::Forbidden(
                "only an admin may change an admin account".into(),
            ));
        }
        let mut c = Checker::new();
        c.opt_text("display_name", req.display_name.as_ref(), 100);
        if let Some(p) = &req.password {
            check_password(&mut c, p);
        }
        c.finish()?;
        if let Some(name) = req.display_name {
            name.trim().clone_into(&mut user.display_name);
        }
        if let Some(p) = req.password {
            user.password_hash = hash_password_blocking(p).await?;
        }
        if let Some(active) = req.active {
            user.active = active;
        }
        self.store.user_update(&user).await?;
        Ok(user_view(&user))
    }

    /// Every account (admins and node operators).
    pub async fn list_users(&self, viewer: &Viewer) -> AppResult<Vec<wire::User>> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        Ok(self
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
            .store
            .user_get(&me.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(user_view(&user))
    }

    // ----- agencies and categories ----------------------------------------------------------------------

    /// Every agency.
    pub async fn list_agencies(&self) -> AppResult<Vec<wire::Agency>> {
        Ok(self
            .store
            .agency_list()
            .await?
            .iter()
            .map(agency_view)
            .collect())
    }

    /// One agency.
    pub async fn get_agency(&self, id: &str) -> AppResult<wire::Agency> {
        let a = self
            .store
            .agency_get(id)
            .await?
            .ok_or(AppError::NotFound("agency"))?;
        Ok(agency_view(&a))
    }

    /// Creates an agency under an optional parent (admins and node operators).
    pub async fn create_agency(
        &self,
        viewer: &Viewer,
        req: wire::CreateAgency,
    ) -> AppResult<wire::Agency> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut c = Checker::new();
        if !valid_agency_id(&req.id) {
            c.fail(
                "id",
                "invalid",
                "2..64 huruf kecil, angka, tanda minus / 2..64 of a-z, 0-9, -",
            );
        }
        c.text("name", &req.name, 2, 200);
        if !AGENCY_KINDS.contains(&req.kind.as_str()) {
            c.fail(
                "kind",
                "invalid",
                format!("salah satu dari / one of: {}", AGENCY_KINDS.join(", ")),
            );
        }
        let region_code = clean(req.region_code);
        if region_code
            .as_deref()
            .is_some_and(|r| !valid_region_code(r))
        {
            c.fail(
                "region_code",
                "invalid",
                "kode wilayah Kemendagri, mis. 53.71 / Kemendagri region code, e.g. 53.71",
            );
        }
        let parent_id = clean(req.parent_id);
        let parent = match &parent_id {
            Some(p) => {
                let found = self.store.agency_get(p).await?;
                if found.is_none() {
                    c.fail(
                        "parent_id",
                        "unknown",
                        "instansi induk tidak dikenal / unknown parent agency",
                    );
                }
                found
            }
            None => None,
        };
        c.finish()?;
        let path = format!(
            "{}{}/",
            parent.as_ref().map_or("/", |p| p.path.as_str()),
            req.id
        );
        let record = AgencyRecord {
            id: req.id,
            parent_id,
            path,
            name: req.name.trim().to_owned(),
            kind: req.kind,
            region_code,
            active: true,
            created_at: self.now(),
            node_id: None,
        };
        self.store
            .agency_create(&record)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => {
                    AppError::Conflict(format!("agency `{}` exists already", record.id))
                }
                other => other.into(),
            })?;
        self.publish_agencies().await;
        Ok(agency_view(&record))
    }

    /// Renames, re-codes or (de)activates an agency.
    pub async fn update_agency(
        &self,
        viewer: &Viewer,
        id: &str,
        req: wire::UpdateAgency,
    ) -> AppResult<wire::Agency> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut a = self
            .store
            .agency_get(id)
            .await?
            .ok_or(AppError::NotFound("agency"))?;
        let mut c = Checker::new();
        c.opt_text("name", req.name.as_ref(), 200);
        if req
            .region_code
            .as_deref()
            .is_some_and(|r| !valid_region_code(r))
        {
            c.fail(
                "region_code",
                "invalid",
                "kode wilayah Kemendagri / Kemendagri region code",
            );
        }
        c.finish()?;
        if let Some(n) = req.name {
            n.trim().clone_into(&mut a.name);
        }
        if let Some(r) = req.region_code {
            a.region_code = Some(r);
        }
        if let Some(active) = req.active {
            a.active = active;
        }
        self.store.agency_update(&a).await?;
        self.publish_agencies().await;
        Ok(agency_view(&a))
    }

    /// Every category; the public sees only active ones.
    pub async fn list_categories(&self, viewer: &Viewer) -> AppResult<Vec<wire::Category>> {
        let all = self.store.category_list().await?;
        let staff = viewer.user().is_some_and(|u| u.role.is_staff());
        Ok(all.into_iter().filter(|c| staff || c.active).collect())
    }

    /// Creates a category (admins and node operators).
    pub async fn create_category(
        &self,
        viewer: &Viewer,
        req: wire::CategoryInput,
    ) -> AppResult<wire::Category> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut c = Checker::new();
        let id = req.id.clone().unwrap_or_default();
        if !valid_agency_id(&id) {
            c.fail(
                "id",
                "invalid",
                "2..64 huruf kecil, angka, tanda minus / 2..64 of a-z, 0-9, -",
            );
        }
        c.text("name_id", req.name_id.as_deref().unwrap_or(""), 2, 100);
        c.text("name_en", req.name_en.as_deref().unwrap_or(""), 2, 100);
        c.finish()?;
        if self.store.category_get(&id).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "category `{id}` exists already"
            )));
        }
        let cat = wire::Category {
            id,
            name_id: req.name_id.unwrap_or_default().trim().to_owned(),
            name_en: req.name_en.unwrap_or_default().trim().to_owned(),
            active: req.active.unwrap_or(true),
        };
        self.store.category_upsert(&cat).await?;
        Ok(cat)
    }

    /// Edits a category (admins and node operators).
    pub async fn update_category(
        &self,
        viewer: &Viewer,
        id: &str,
        req: wire::CategoryInput,
    ) -> AppResult<wire::Category> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut cat = self
            .store
            .category_get(id)
            .await?
            .ok_or(AppError::NotFound("category"))?;
        let mut c = Checker::new();
        if req.id.as_deref().is_some_and(|new| new != id) {
            c.fail(
                "id",
                "immutable",
                "id tidak dapat diubah / the id cannot change",
            );
        }
        c.opt_text("name_id", req.name_id.as_ref(), 100);
        c.opt_text("name_en", req.name_en.as_ref(), 100);
        c.finish()?;
        if let Some(n) = req.name_id {
            n.trim().clone_into(&mut cat.name_id);
        }
        if let Some(n) = req.name_en {
            n.trim().clone_into(&mut cat.name_en);
        }
        if let Some(a) = req.active {
            cat.active = a;
        }
        self.store.category_upsert(&cat).await?;
        Ok(cat)
    }

    // ----- reports --------------------------------------------------------------------------------------

    /// Files a report: validates, assigns id, tracking code, secret and deadline, and stores it durably.
    pub async fn create_report(
        &self,
        viewer: &Viewer,
        req: wire::CreateReport,
    ) -> AppResult<wire::CreatedReport> {
        let mut c = Checker::new();
        c.text("title", &req.title, 5, 200);
        c.text("body", &req.body, 10, 20_000);
        c.opt_text("address", req.address.as_ref(), 500);
        let category = clean(req.category);
        if let Some(cat) = &category {
            if !self
                .store
                .category_get(cat)
                .await?
                .is_some_and(|c| c.active)
            {
                c.fail(
                    "category",
                    "unknown",
                    "kategori tidak dikenal / unknown category",
                );
            }
        }
        let agency_id = clean(req.agency_id);
        if let Some(a) = &agency_id {
            if !self.store.agency_get(a).await?.is_some_and(|a| a.active) {
                c.fail(
                    "agency_id",
                    "unknown",
                    "instansi tidak dikenal / unknown agency",
                );
            }
        }
        let region_code = clean(req.region_code);
        if region_code
            .as_deref()
            .is_some_and(|r| !valid_region_code(r))
        {
            c.fail(
                "region_code",
                "invalid",
                "kode wilayah Kemendagri, mis. 53.71 / Kemendagri region code, e.g. 53.71",
            );
        }
        let (lat_e6, lon_e6) = match req.location {
            Some(l) => {
                if !(l.lat.is_finite() && (-90.0..=90.0).contains(&l.lat)) {
                    c.fail(
                        "location.lat",
                        "out_of_range",
                        "antara -90 dan 90 / between -90 and 90",
                    );
                }
                if !(l.lon.is_finite() && (-180.0..=180.0).contains(&l.lon)) {
                    c.fail(
                        "location.lon",
                        "out_of_range",
                        "antara -180 dan 180 / between -180 and 180",
                    );
                }
                (
                    Some((l.lat * 1e6).round() as i64),
                    Some((l.lon * 1e6).round() as i64),
                )
            }
            None => (None, None),
        };
        let now = self.now();
        if req
            .incident_date
            .is_some_and(|d| d > self.calendar.local_date(now))
        {
            c.fail(
                "incident_date",
                "in_future",
                "tidak boleh di masa depan / cannot be in the future",
            );
        }
        let identity = if req.anonymous {
            None
        } else {
            req.reporter.map(|r| {
                check_reporter(&mut c, &r);
                ReporterIdentity {
                    name: clean(r.name),
                    phone: clean(r.phone),
                    email: clean(r.email),
                }
            })
        };
        let user = viewer.user();
        let channel = match (req.channel, user) {
            (None, Some(_))
                if matches!(
                    viewer,
                    Viewer::User {
                        api_token: true,
                        ..
                    }
                ) =>
            {
                Channel::Api
            }
            (None, _) => Channel::Web,
            (Some(ch), Some(u))
                if ch.is_assisted() && matches!(u.role, Role::Admin | Role::AgencyOfficer) =>
            {
                ch
            }
            (Some(ch), _) if ch.is_assisted() => {
                c.fail("channel", "forbidden", "hanya petugas yang mencatat laporan atas nama warga / only officers log reports on a citizen's behalf");
                ch
            }
            (Some(ch), _) => {
                c.fail("channel", "invalid", "gunakan phone, whatsapp, walk_in atau letter / use phone, whatsapp, walk_in or letter");
                ch
            }
        };
        c.finish()?;
        let chosen = match &agency_id {
            Some(a) => self.store.agency_get(a).await?,
            None => None,
        };
        let peers = self.fed.peers.read().map(|p| p.clone()).unwrap_or_default();
        let route = self.router.route(
            chosen.as_ref(),
            region_code.as_deref(),
            lat_e6.zip(lon_e6),
            &peers,
        );
        let region_code = region_code.or_else(|| route.located_region.clone());
        let agency_path = chosen
            .as_ref()
            .filter(|a| a.node_id.is_none())
            .map(|a| a.path.clone());
        let secret = tracking::new_secret();
        let report = Report {
            id: tracking::new_report_id(&self.config.node.id),
            tracking_code: tracking::new_tracking_code(&self.config.node.code),
            secret_hash: tracking::sha256_hex(&secret),
            kind: req.kind,
            title: req.title.trim().to_owned(),
            body: req.body.trim().to_owned(),
            category_id: category,
            agency_id,
            agency_path,
            region_code,
            lat_e6,
            lon_e6,
            address: clean(req.address),
            incident_date: req.incident_date,
            anonymous: req.anonymous,
            confidential: req.confidential,
            channel,
            status: ReportStatus::Submitted,
            submitted_at: now,
            updated_at: now,
            verified_at: None,
            responded_at: None,
            closed_at: None,
            verification_due_at: Some(
                self.calendar
                    .add_working_days(now, lifecycle::VERIFY_WORKING_DAYS),
            ),
            followup_due_at: None,
            autocomplete_at: None,
            escalation_at: None,
            verification_overdue: false,
            followup_overdue: false,
            escalated: false,
            archive_reason: None,
            duplicate_of: None,
            rating_score: None,
            rating_comment: None,
            reporter_user_id: user
                .filter(|u| u.role == Role::Reporter)
                .map(|u| u.id.clone()),
            created_by: user.filter(|u| u.role.is_staff()).map(|u| u.id.clone()),
            version: 1,
        };
        let (actor_role, actor_id, actor_name) = match user {
            Some(u) if u.role.is_staff() => (
                u.role.as_str(),
                Some(u.id.clone()),
                Some(u.display_name.clone()),
            ),
            _ => ("reporter", None, None),
        };
        let entry = TimelineRecord {
            report_id: report.id.clone(),
            seq: 1,
            at: now,
            action: TimelineAction::Created,
            actor_role: actor_role.into(),
            actor_id,
            actor_name,
            agency_id: None,
            from_status: None,
            to_status: Some(ReportStatus::Submitted),
            note: channel
                .is_assisted()
                .then(|| format!("Dicatat oleh petugas dari kanal {}", channel.as_str())),
        };
        let identity = identity.filter(|i| !i.is_empty());
        let draft = self.report_draft(&report, &entry, identity.as_ref(), None)?;
        self.store
            .report_insert(&report, identity.as_ref(), &entry, Some(&draft))
            .await?;
        tracing::info!(report.id = %report.id, report.channel = channel.as_str(),
            route.node = %route.node, route.by = route.by.as_str(), "report filed");
        if route.node != self.fed.node_id {
            // Stored here first, so nothing is lost; then moved to the node that must act on it.
            if let Err(e) = crate::federation::transfer::open(
                self,
                &report,
                &route.node,
                "routing",
                Some(format!("dirutekan menurut {}", route.by.as_str())),
                route.agency_id.clone(),
            )
            .await
            {
                tracing::warn!(report.id = %report.id, to = %route.node, error = %e,
                    "routing transfer not opened; the report stays in this node's admin queue");
            }
        }
        Ok(wire::CreatedReport {
            id: report.id,
            tracking_code: report.tracking_code,
            tracking_secret: secret,
            status: ReportStatus::Submitted,
            verification_due_at: self.time(report.verification_due_at.unwrap_or(now)),
        })
    }

    /// A report by id or tracking code. On a regional node, a report it does not hold or does not own is
    /// looked up at the hub first (its history verified and stored here), so the tracking code works on
    /// every node and shows where the report is now; without the hub the local copy is shown.
    async fn find(&self, key: &str) -> AppResult<Option<Report>> {
        let local = self.find_local(key).await?;
        if self.fed.role == NodeRole::Hub {
            return Ok(local);
        }
        let lookup = match &local {
            Some(r) if self.owner_of(&r.id).await? == self.fed.node_id => return Ok(local),
            Some(r) => r.id.clone(),
            None if key.contains(':') => key.to_owned(),
            None => tracking::normalise_tracking_code(key),
        };
        let fetched = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            crate::federation::transfer::refresh(self, &lookup),
        )
        .await;
        match fetched {
            Ok(Ok(Some(id))) => Ok(self.store.report_get(&id).await?.or(local)),
            Ok(Ok(None)) => Ok(local),
            Ok(Err(e)) => {
                tracing::info!(report = %lookup, error = %e, "hub lookup failed; showing what this node holds");
                Ok(local)
            }
            Err(_) => {
                tracing::info!(report = %lookup, "hub lookup timed out; showing what this node holds");
                Ok(local)
            }
        }
    }

    async fn find_local(&self, key: &str) -> AppResult<Option<Report>> {
        if key.contains(':') {
            Ok(self.store.report_get(key).await?)
        } else {
            Ok(self
                .store
                .report_by_tracking_code(&tracking::normalise_tracking_code(key))
                .await?)
        }
    }

    /// What `viewer` (with an optional tracking secret) may see of `report`; `None` means nothing at all.
    pub fn access(&self, viewer: &Viewer, secret: Option<&str>, report: &Report) -> Option<Access> {
        if let Some(u) = viewer.user() {
            match u.role {
                Role::Admin => return Some(Access::Staff { identity: true }),
                Role::Auditor | Role::NodeOperator => {
                    return Some(Access::Staff { identity: false })
                }
                Role::AgencyOfficer | Role::Executive => {
                    let in_scope = matches!((&u.agency_path, &report.agency_path),
                        (Some(mine), Some(theirs)) if theirs.starts_with(mine.as_str()));
                    // Outside their subtree an officer's authenticated view shows nothing, not even public
                    // reports: 404, so the console never mixes other agencies' work into theirs.
                    return in_scope.then_some(Access::Staff {
                        identity: u.role == Role::AgencyOfficer,
                    });
                }
                Role::Reporter => {
                    if report.reporter_user_id.as_deref() == Some(u.id.as_str()) {
                        return Some(Access::Reporter);
                    }
                }
            }
        }
        if secret.is_some_and(|s| tracking::secret_matches(s, &report.secret_hash)) {
            return Some(Access::Reporter);
        }
        (!report.confidential).then_some(Access::Public)
    }

    /// Loads a report by id or tracking code as `viewer` may see it (404 when they may not see it at all).
    pub async fn load(
        &self,
        viewer: &Viewer,
        key: &str,
        secret: Option<&str>,
    ) -> AppResult<(Report, Access)> {
        let report = self.find(key).await?.ok_or(AppError::NotFound("report"))?;
        let access = self
            .access(viewer, secret, &report)
            .ok_or(AppError::NotFound("report"))?;
        Ok((report, access))
    }

    /// The report as its viewer may see it, with its timeline.
    pub async fn view(&self, report: &Report, access: Access) -> AppResult<wire::ReportView> {
        let timeline = self.store.report_timeline(&report.id).await?;
        let identity = match access {
            Access::Staff { identity: true } | Access::Reporter if !report.anonymous => {
                self.store.report_identity(&report.id).await?
            }
            _ => None,
        };
        let agency_name = match &report.agency_id {
            Some(id) => self.store.agency_get(id).await?.map(|a| a.name),
            None => None,
        };
        let staff = matches!(access, Access::Staff { .. });
        let t = |ms: Option<Millis>| ms.map(|m| self.time(m));
        let held = self.store.report_owner(&report.id).await?;
        let epoch = held.as_ref().map_or(0, |o| o.epoch);
        let owner = match held {
            Some(o) => o.owner,
            None => self.owner_of(&report.id).await?,
        };
        let transfer = self
            .store
            .transfers_of_report(&report.id)
            .await?
            .into_iter()
            .next();
        Ok(wire::ReportView {
            id: report.id.clone(),
            tracking_code: report.tracking_code.clone(),
            kind: report.kind,
            title: report.title.clone(),
            body: report.body.clone(),
            category: report.category_id.clone(),
            agency_id: report.agency_id.clone(),
            agency_name,
            region_code: report.region_code.clone(),
            location: match (report.lat_e6, report.lon_e6) {
                (Some(lat), Some(lon)) => Some(wire::Location {
                    lat: lat as f64 / 1e6,
                    lon: lon as f64 / 1e6,
                }),
                _ => None,
            },
            address: report.address.clone(),
            incident_date: report.incident_date,
            anonymous: report.anonymous,
            confidential: report.confidential,
            channel: report.channel,
            status: report.status,
            status_label: report.status.label_id().into(),
            submitted_at: self.time(report.submitted_at),
            updated_at: self.time(report.updated_at),
            deadlines: wire::Deadlines {
                verification_due_at: t(report.verification_due_at),
                followup_due_at: t(report.followup_due_at),
                autocomplete_at: t(report.autocomplete_at),
                escalation_at: t(report.escalation_at),
            },
            verification_overdue: report.verification_overdue,
            followup_overdue: report.followup_overdue,
            escalated: report.escalated,
            archive_reason: report.archive_reason,
            duplicate_of: match &report.duplicate_of {
                Some(id) => self.store.report_get(id).await?.map(|r| r.tracking_code),
                None => None,
            },
            rating: report.rating_score.map(|score| wire::RatingView {
                score,
                comment: report.rating_comment.clone(),
            }),
            reporter: identity.map(|i| wire::Reporter {
                name: i.name,
                phone: i.phone,
                email: i.email,
            }),
            owner_name: self.node_name(&owner),
            owner_node: owner,
            epoch,
            transfer: transfer.map(|t| wire::TransferView {
                to_name: self.node_name(&t.to_node),
                offer_id: t.offer_id,
                from_node: t.from_node,
                to_node: t.to_node,
                epoch: t.epoch,
                state: t.state,
                reason: t.reason,
                code: t.code,
            }),
            timeline: timeline
                .into_iter()
                .map(|e| self.entry_view(e, staff))
                .collect(),
        })
    }

    fn entry_view(&self, e: TimelineRecord, staff: bool) -> wire::TimelineEntry {
        let internal = matches!(
            e.action,
            TimelineAction::Verified
                | TimelineAction::NotAuthority
                | TimelineAction::PrivacyRaised
                | TimelineAction::Transferred
        );
        let actor = match (staff, &e.actor_name) {
            (true, Some(name)) => format!("{name} ({})", e.actor_role),
            _ => match e.actor_role.as_str() {
                "system" => "Sistem".into(),
                "reporter" => "Pelapor".into(),
                "agency_officer" => "Instansi".into(),
                _ => "Admin".into(),
            },
        };
        wire::TimelineEntry {
            seq: e.seq,
            at: self.time(e.at),
            action: e.action,
            label: e.action.label_id().into(),
            actor,
            from_status: e.from_status,
            to_status: e.to_status,
            note: if internal && !staff { None } else { e.note },
        }
    }

    /// Runs a lifecycle command on a report, retrying when it changed concurrently. Returns the new state and
    /// the access the actor had when acting (they keep seeing the result of their own action, e.g. after
    /// sending a report back with not-authority, which takes it out of their scope).
    pub async fn act(
        &self,
        viewer: &Viewer,
        key: &str,
        secret: Option<&str>,
        cmd: Command,
    ) -> AppResult<(Report, Access)> {
        for _ in 0..5 {
            let (report, access) = self.load(viewer, key, secret).await?;
            let actor = match (viewer.user(), access) {
                (user, Access::Reporter) => Actor::Reporter {
                    user_id: user.map(|u| u.id.clone()),
                },
                (_, Access::Public) if secret.is_some() => return Err(AppError::BadSecret),
                (Some(u), _) => Actor::User(u.clone()),
                (None, _) => {
                    return Err(
                        if matches!(
                            cmd,
                            Command::Supplement { .. }
                                | Command::Reply { .. }
                                | Command::Accept { .. }
                                | Command::Rate { .. }
                        ) {
                            AppError::BadSecret
                        } else {
                            AppError::Unauthenticated
                        },
                    )
                }
            };
            let transition =
                lifecycle::apply(&report, cmd.clone(), &actor, self.now(), &self.calendar)?;
            let owner = self.owner_of(&report.id).await?;
            if owner != self.fed.node_id {
                if matches!(actor, Actor::Reporter { .. }) {
                    self.forward_contribution(&report, &owner, &cmd).await?;
                    return Ok((report, access));
                }
                return Err(AppError::NotOwner(owner));
            }
            if let Some(t) = crate::federation::transfer::open_transfer(self, &report.id).await? {
                return Err(AppError::Conflict(format!(
                    "transfer_pending: laporan sedang dialihkan ke {} / the report is being transferred to {}",
                    t.to_node, t.to_node
                )));
            }
            let draft = self.report_draft(&transition.report, &transition.entry, None, None)?;
            match self
                .store
                .report_transition(&transition, Some(&draft))
                .await
            {
                Ok(()) => {
                    tracing::info!(report.id = %report.id, action = cmd.name(), "report changed");
                    return Ok((transition.report, access));
                }
                Err(StorageError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the report is changing too often; try again".into(),
        ))
    }

    /// Resolves and checks the agency of a disposition.
    pub async fn agency_target(&self, id: &str) -> AppResult<AgencyTarget> {
        match self.store.agency_get(id).await? {
            Some(a) if a.active && a.node_id.is_none() => Ok(AgencyTarget {
                id: a.id,
                path: a.path,
            }),
            _ => Err(AppError::Validation(vec![FieldError {
                field: "agency_id".into(),
                code: "unknown".into(),
                message: "instansi tidak dikenal atau tidak aktif / unknown or inactive agency"
                    .into(),
            }])),
        }
    }

    /// Resolves the original of a duplicate (id or tracking code) to its id.
    pub async fn original_of(&self, key: &str) -> AppResult<String> {
        match self.find(key).await? {
            Some(r) => Ok(r.id),
            None => Err(AppError::Validation(vec![FieldError {
                field: "duplicate_of".into(),
                code: "unknown".into(),
                message: "laporan asli tidak ditemukan / original report not found".into(),
            }])),
        }
    }

    /// The filter a viewer's list is narrowed to.
    pub fn scope(&self, viewer: &Viewer, mut filter: ReportFilter) -> AppResult<ReportFilter> {
        match viewer.user() {
            None => filter.public_only = true,
            Some(u) => match u.role {
                Role::Admin | Role::Auditor | Role::NodeOperator => {}
                Role::AgencyOfficer | Role::Executive => {
                    filter.agency_path_prefix =
                        Some(u.agency_path.clone().ok_or_else(|| {
                            AppError::Forbidden("this account has no agency".into())
                        })?);
                }
                Role::Reporter => filter.reporter_user_id = Some(u.id.clone()),
            },
        }
        filter.limit = filter.limit.clamp(1, 200);
        filter.offset = filter.offset.max(0);
        Ok(filter)
    }

    /// A page of reports as the viewer may list them.
    pub async fn list(&self, viewer: &Viewer, filter: ReportFilter) -> AppResult<wire::ReportPage> {
        let filter = self.scope(viewer, filter)?;
        let (reports, total) = self.store.report_list(&filter).await?;
        let next = filter.offset + reports.len() as i64;
        Ok(wire::ReportPage {
            items: reports.iter().map(|r| self.summary(r)).collect(),
            total,
            next_offset: (next < total).then_some(next),
        })
    }

    /// One list line.
    pub fn summary(&self, r: &Report) -> wire::ReportSummary {
        wire::ReportSummary {
            id: r.id.clone(),
            tracking_code: r.tracking_code.clone(),
            kind: r.kind,
            title: r.title.clone(),
            category: r.category_id.clone(),
            agency_id: r.agency_id.clone(),
            status: r.status,
            status_label: r.status.label_id().into(),
            confidential: r.confidential,
            submitted_at: self.time(r.submitted_at),
            due_at: r.current_due().map(|d| self.time(d)),
            overdue: r.is_overdue(),
            escalated: r.escalated,
        }
    }

    /// Counts over what the viewer may list (the public sees counts of public reports).
    pub async fn stats(
        &self,
        viewer: &Viewer,
        agency_id: Option<String>,
    ) -> AppResult<wire::Stats> {
        let filter = self.scope(
            viewer,
            ReportFilter {
                agency_id,
                limit: 1,
                ..ReportFilter::default()
            },
        )?;
        let s = self.store.report_stats(&filter).await?;
        Ok(wire::Stats {
            total: s.total,
            by_status: s.by_status,
            by_category: s.by_category,
            overdue: s.overdue,
            escalated: s.escalated,
        })
    }

    /// Publishes this node's agencies to the federation after a change (failures are logged; the next
    /// start publishes again).
    async fn publish_agencies(&self) {
        if let Err(e) = crate::federation::agencies::publish(self).await {
            tracing::error!(error = %e, "publishing this node's agencies failed");
        }
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

    /// An admin moves a report to another node: to the node hosting `agency_id`, to `to_node`, or up to the
    /// hub. On the owner it is an offer the hub checks; on the hub it is decided at once.
    pub async fn request_transfer(
        &self,
        viewer: &Viewer,
        key: &str,
        req: wire::TransferRequest,
    ) -> AppResult<wire::TransferView> {
        viewer.require_role(&[Role::Admin])?;
        let (report, _) = self.load(viewer, key, None).await?;
        let mut c = Checker::new();
        c.text("note", &req.note, 3, 2000);
        let reason = req.reason.clone().unwrap_or_else(|| "misrouted".into());
        if !matches!(reason.as_str(), "misrouted" | "not_authority") {
            c.fail(
                "reason",
                "invalid",
                "gunakan misrouted atau not_authority / use misrouted or not_authority",
            );
        }
        let agency = match clean(req.agency_id) {
            Some(id) => match self.store.agency_get(&id).await? {
                Some(a) if a.active && a.node_id.is_some() => Some(a),
                Some(a) if a.node_id.is_none() => {
                    c.fail("agency_id", "local", "instansi ini ada di node ini; gunakan disposisi / this agency is on this node; disposition it instead");
                    None
                }
                _ => {
                    c.fail(
                        "agency_id",
                        "unknown",
                        "instansi tidak dikenal / unknown agency",
                    );
                    None
                }
            },
            None => None,
        };
        let hub = self
            .fed
            .peers
            .read()
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|p| p.role == "hub")
                    .map(|p| p.node_id.clone())
            })
            .or_else(|| (self.fed.role == NodeRole::Hub).then(|| self.fed.node_id.clone()));
        let to = match (&agency, clean(req.to_node)) {
            (Some(a), _) => a.node_id.clone(),
            (None, Some(n)) => Some(n),
            (None, None) => hub,
        };
        if to.is_none() {
            c.fail(
                "to_node",
                "required",
                "node tujuan diperlukan / a target node is required",
            );
        }
        c.finish()?;
        let to = to.unwrap_or_default();
        let row = crate::federation::transfer::open(
            self,
            &report,
            &to,
            &reason,
            Some(req.note.trim().to_owned()),
            agency.map(|a| a.id),
        )
        .await?;
        Ok(wire::TransferView {
            to_name: self.node_name(&row.to_node),
            offer_id: row.offer_id,
            from_node: row.from_node,
            to_node: row.to_node,
            epoch: row.epoch,
            state: row.state,
            reason: row.reason,
            code: row.code,
        })
    }

    /// The node that owns a report (its origin unless it was transferred).
    pub async fn owner_of(&self, report_id: &str) -> AppResult<String> {
        Ok(match self.store.report_owner(report_id).await? {
            Some(o) => o.owner,
            None => report_id
                .split_once(':')
                .map_or_else(|| self.fed.node_id.clone(), |(n, _)| n.to_owned()),
        })
    }

    /// The signed event that goes with a change of a report this node owns.
    pub fn report_draft(
        &self,
        report: &Report,
        entry: &TimelineRecord,
        identity: Option<&ReporterIdentity>,
        consumes: Option<String>,
    ) -> AppResult<EventDraft> {
        let mut blobs = Vec::new();
        let identity = match identity {
            Some(id) if !report.anonymous => {
                let plain =
                    serde_json::json!({"name": id.name, "phone": id.phone, "email": id.email});
                let sealed = lapor_federation::seal::seal(
                    &self.fed.keys.enc.public(),
                    plain.to_string().as_bytes(),
                    report.id.as_bytes(),
                )
                .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing the identity: {e}")))?;
                let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sealed));
                blobs.push((hash.clone(), sealed));
                Some(IdentityRef {
                    blob: hash,
                    sealed_to: self.fed.keys.key_id.clone(),
                })
            }
            _ => None,
        };
        let body = ReportPayload {
            entry: payload::entry_payload(entry),
            state: payload::state_payload(report),
            identity,
        };
        Ok(EventDraft {
            signer: self.fed.signer.clone(),
            kind: payload::event_kind(entry.action),
            report_id: report.id.clone(),
            payload: payload::encode(&body).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?,
            blobs,
            authored_at: entry.at,
            destinations: self.fed.destinations(),
            consumes,
            epoch: None,
            transfer: None,
            pending: false,
        })
    }

    /// Sends what a reporter did here on another node's report to its owner, as a contribution event.
    async fn forward_contribution(
        &self,
        report: &Report,
        owner: &str,
        cmd: &Command,
    ) -> AppResult<()> {
        let (kind, note, score, comment) = match cmd {
            Command::Reply { note } => ("contribution.reply", Some(note.clone()), None, None),
            Command::Accept { note } => ("contribution.accept", note.clone(), None, None),
            Command::Rate { score, comment } => {
                ("contribution.rate", None, Some(*score), comment.clone())
            }
            _ => return Err(AppError::NotOwner(owner.to_owned())),
        };
        let body = ContributionPayload {
            owner: owner.to_owned(),
            tracking_code: report.tracking_code.clone(),
            note,
            score,
            comment,
            at_ms: self.now(),
        };
        let draft = EventDraft {
            signer: self.fed.signer.clone(),
            kind: kind.into(),
            report_id: report.id.clone(),
            payload: payload::encode(&body).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?,
            blobs: Vec::new(),
            authored_at: self.now(),
            destinations: self.fed.destinations(),
            consumes: None,
            epoch: None,
            transfer: None,
            pending: false,
        };
        self.store.event_append(&draft).await?;
        self.fed.push_wake.notify_waiters();
        tracing::info!(report.id = %report.id, %owner, kind, "contribution forwarded to the owner");
        Ok(())
    }

    /// Runs a command on a report this node owns, for an event from elsewhere (a contribution), consuming
    /// that event in the same transaction.
    pub async fn apply_as_owner(
        &self,
        report_id: &str,
        cmd: Command,
        actor: &Actor,
        consumes: Option<String>,
        via: &str,
    ) -> AppResult<()> {
        for _ in 0..5 {
            let report = self
                .store
                .report_get(report_id)
                .await?
                .ok_or(AppError::NotFound("report"))?;
            if self.owner_of(report_id).await? != self.fed.node_id {
                return Err(AppError::NotOwner(self.owner_of(report_id).await?));
            }
            let mut t = lifecycle::apply(&report, cmd.clone(), actor, self.now(), &self.calendar)?;
            t.entry.note = Some(match t.entry.note.take() {
                Some(n) => format!("{n} (via {via})"),
                None => format!("via {via}"),
            });
            let draft = self.report_draft(&t.report, &t.entry, None, consumes.clone())?;
            match self.store.report_transition(&t, Some(&draft)).await {
                Ok(()) => {
                    self.fed.push_wake.notify_waiters();
                    return Ok(());
                }
                Err(StorageError::Conflict(m)) if m.contains("not pending") => {
                    return Ok(());
                }
                Err(StorageError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the report is changing too often".into(),
        ))
    }

    /// One pass of the deadline worker at the current time: marks overdue reports, escalates, auto-completes.
    /// Returns how many changes it made.
    pub async fn run_deadlines(&self) -> AppResult<usize> {
        let now = self.now();
        let mut changed = 0;
        loop {
            let due = self.store.report_due(now, 500).await?;
            let mut progressed = 0;
            for report in &due {
                if self.owner_of(&report.id).await? != self.fed.node_id
                    || crate::federation::transfer::open_transfer(self, &report.id)
                        .await?
                        .is_some()
                {
                    // Another node's report (its owner runs its deadlines), or one on its way there.
                    continue;
                }
                let mut current = report.clone();
                for cmd in lifecycle::due_commands(&current, now) {
                    let t = match lifecycle::apply(
                        &current,
                        cmd,
                        &Actor::System,
                        now,
                        &self.calendar,
                    ) {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::warn!(report.id = %current.id, error = %e, "deadline command refused");
                            continue;
                        }
                    };
                    let draft = self.report_draft(&t.report, &t.entry, None, None)?;
                    match self.store.report_transition(&t, Some(&draft)).await {
                        Ok(()) => {
                            changed += 1;
                            progressed += 1;
                            current = t.report;
                        }
                        // Someone changed it meanwhile; the next pass sees the new state.
                        Err(StorageError::Conflict(_)) => break,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if due.len() < 500 || progressed == 0 {
                break;
            }
        }
        Ok(changed)
    }
}

async fn hash_password_blocking(password: String) -> AppResult<String> {
    blocking(move || hash_password(&password)).await?
}

/// The checks every new account passes: login name, password, display name.
fn check_account(c: &mut Checker, username: &str, password: &str, display_name: &str) {
    check_username(c, username);
    check_password(c, password);
    c.text("display_name", display_name, 1, 100);
}

fn check_username(c: &mut Checker, username: &str) {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        c.fail(
            "username",
            "invalid",
            "3..64 huruf kecil, angka, . _ - / 3..64 of a-z, 0-9, . _ -",
        );
    }
}

fn check_password(c: &mut Checker, password: &str) {
    let n = password.chars().count();
    if n < 10 {
        c.fail(
            "password",
            "too_short",
            "minimal 10 karakter / at least 10 characters",
        );
    } else if n > 200 {
        c.fail(
            "password",
            "too_long",
            "maksimal 200 karakter / at most 200 characters",
        );
    }
}

fn check_reporter(c: &mut Checker, r: &wire::Reporter) {
    c.opt_text("reporter.name", r.name.as_ref(), 200);
    if let Some(p) = &r.phone {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        let ok = p
            .chars()
            .all(|ch| ch.is_ascii_digit() || " +-".contains(ch))
            && (8..=16).contains(&digits);
        if !ok {
            c.fail(
                "reporter.phone",
                "invalid",
                "nomor telepon tidak valid / invalid phone number",
            );
        }
    }
    if let Some(e) = &r.email {
        let ok = e.len() <= 254
            && e.split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
        if !ok {
            c.fail(
                "reporter.email",
                "invalid",
                "alamat email tidak valid / invalid e-mail address",
            );
        }
    }
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
    }
}

/// The wire view of an agency.
pub fn agency_view(a: &AgencyRecord) -> wire::Agency {
    wire::Agency {
        id: a.id.clone(),
        parent_id: a.parent_id.clone(),
        name: a.name.clone(),
        kind: a.kind.clone(),
        region_code: a.region_code.clone(),
        active: a.active,
        node_id: a.node_id.clone(),
    }
}

/// Parses a list order from a query string value.
pub fn parse_order(s: Option<&str>) -> ReportOrder {
    match s {
        Some("deadline") => ReportOrder::Deadline,
        _ => ReportOrder::Newest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes() {
        for ok in ["53", "53.71", "53.71.01", "53.71.01.1001"] {
            assert!(valid_region_code(ok), "{ok}");
        }
        for bad in ["", "5", "53.7", "53.71.01.100", "53.71.01.1001.1", "ab"] {
            assert!(!valid_region_code(bad), "{bad}");
        }
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(!verify_password("x", DUMMY_HASH));
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
    }
}
