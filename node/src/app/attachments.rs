//! Files of a report: checked bytes (magic-byte type, metadata stripped, by [`crate::attachments`]) are
//! stored content-addressed under the data directory and tied to the report in storage.

use std::path::PathBuf;

use super::{App, AppError, AppResult};
use crate::attachments::{self, display};
use crate::domain::AttachmentRecord;

impl App {
    /// Stores checked files and ties them to a report.
    pub async fn attach(
        &self,
        report_id: &str,
        files: Vec<(String, attachments::Checked)>,
        added_by: &str,
    ) -> AppResult<()> {
        for (file_name, checked) in files {
            let dir = self.node.config.node.data_dir.clone();
            let record = AttachmentRecord {
                report_id: report_id.to_owned(),
                sha256: checked.sha256.clone(),
                media_type: checked.kind.media_type().to_owned(),
                size_bytes: checked.bytes.len() as i64,
                file_name,
                added_by: added_by.to_owned(),
                added_at: self.now(),
            };
            let sha = checked.sha256.clone();
            tokio::task::spawn_blocking(move || {
                attachments::store_blocking(&dir, &checked)?;
                // The display version is derived data: failing to make it only means the original is served.
                if let Err(e) =
                    display::ensure_blocking(&dir, &checked.sha256, checked.kind, &checked.bytes)
                {
                    tracing::warn!(attachment.sha256 = %checked.sha256, error = %e, "display version not stored");
                }
                Ok::<_, std::io::Error>(())
            })
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("storing a file failed: {e}")))?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("storing a file failed: {e}")))?;
            tracing::debug!(attachment.sha256 = %sha, "attachment stored");
            self.node.store.attachment_add(&record).await?;
        }
        Ok(())
    }

    /// The path of a photo's display version (at most 1280 px, see [`display`]), made now when it is
    /// missing; `None` when the file needs none or cannot have one (then the original is served).
    pub async fn display_path(&self, file: &AttachmentRecord) -> Option<PathBuf> {
        let kind = match file.media_type.as_str() {
            "image/jpeg" => attachments::Kind::Jpeg,
            "image/png" => attachments::Kind::Png,
            _ => return None,
        };
        let dir = self.node.config.node.data_dir.clone();
        let ready = display::display_path(&dir, &file.sha256);
        if tokio::fs::try_exists(&ready).await.unwrap_or(false) {
            return Some(ready);
        }
        let original = self.attachment_path(&file.sha256);
        let sha = file.sha256.clone();
        tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&original).ok()?;
            display::ensure_blocking(&dir, &sha, kind, &bytes)
                .map_err(|e| tracing::warn!(attachment.sha256 = %sha, error = %e, "display version not stored"))
                .ok()
                .flatten()
        })
        .await
        .ok()
        .flatten()
    }

    /// The files of a report.
    pub async fn attachments_of(&self, report_id: &str) -> AppResult<Vec<AttachmentRecord>> {
        Ok(self.node.store.attachment_list(report_id).await?)
    }

    /// Where the bytes of a stored file are.
    pub fn attachment_path(&self, sha256: &str) -> PathBuf {
        attachments::path_of(&self.node.config.node.data_dir, sha256)
    }
}
