//! The recipients' side of notifications: a reporter unsubscribing from a report's emails, an officer from
//! their account's, with the signed link.

use super::{App, AppError};
use crate::notify::unsubscribe;

impl App {
    /// Stops email notices about `report_id` when `token` is its unsubscribe token. `NotFound` for a wrong
    /// token or an unknown report (the same answer, so a link reveals nothing about other reports).
    pub async fn unsubscribe(&self, report_id: &str, token: &str) -> Result<(), AppError> {
        let store = &self.node().store;
        let Some(key) = unsubscribe::existing_key(store).await? else {
            return Err(AppError::NotFound("report"));
        };
        if !unsubscribe::verify(&key, report_id, token)
            || store.report_get(report_id).await?.is_none()
        {
            return Err(AppError::NotFound("report"));
        }
        store
            .notice_unsubscribe(report_id, self.node().now())
            .await?;
        tracing::info!(report.id = %report_id, "reporter unsubscribed from email notices");
        Ok(())
    }

    /// Stops an officer account's email notices when `token` is its unsubscribe token. `NotFound` for a wrong
    /// token or an unknown account.
    pub async fn unsubscribe_account(&self, user_id: &str, token: &str) -> Result<(), AppError> {
        let store = &self.node().store;
        let Some(key) = unsubscribe::existing_key(store).await? else {
            return Err(AppError::NotFound("user"));
        };
        if !unsubscribe::verify_user(&key, user_id, token) {
            return Err(AppError::NotFound("user"));
        }
        let Some(mut user) = store.user_get(user_id).await? else {
            return Err(AppError::NotFound("user"));
        };
        if !user.notices_off {
            user.notices_off = true;
            store.user_update(&user).await?;
        }
        tracing::info!(user.id = %user_id, "officer unsubscribed from email notices");
        Ok(())
    }
}
