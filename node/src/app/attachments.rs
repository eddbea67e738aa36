//! Files of a report: checked bytes (magic-byte type, metadata stripped, by [`crate::attachments`]) are
//! stored content-addressed under the data directory and tied to the report in storage.

use std::path::PathBuf;

use super::{App, AppError, AppResult};
use crate::attachments;
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
            tokio::task::spawn_blocking(move || attachments::store_blocking(&dir, &checked))
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("storing a file failed: {e}")))?
                .map_err(|e| AppError::Internal(anyhow::anyhow!("storing a file failed: {e}")))?;
            self.node.store.attachment_add(&record).await?;
        }
        Ok(())
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
