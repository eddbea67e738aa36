//! Who is asking: nobody, or an account that came with a session cookie or an API token. Extractors build a
//! [`Viewer`]; every application call takes one, and the decisions about what it may see are in
//! [`crate::domain::access`].

use lapor_schemas::Role;

use super::error::{AppError, AppResult};
use crate::domain::UserRef;

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
        /// sha256 of the token or session it came with (kept when the account changes its password).
        token_hash: String,
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

    /// Whether the account came with an API token.
    pub fn is_api_token(&self) -> bool {
        matches!(
            self,
            Self::User {
                api_token: true,
                ..
            }
        )
    }

    /// The hash of the token or session the account came with.
    pub fn token_hash(&self) -> Option<&str> {
        match self {
            Self::Public => None,
            Self::User { token_hash, .. } => Some(token_hash),
        }
    }

    /// Whether the account is staff (not a citizen).
    pub fn is_staff(&self) -> bool {
        self.user().is_some_and(|u| u.role.is_staff())
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
