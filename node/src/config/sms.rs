//! `[sms]`: the SMS 1708 channel through a Kannel smsbox (`/channels/sms/kannel`, see
//! `crate::channels::sms`). Keywords are upper-case words a citizen types first; they are checked here so a
//! typo in the configuration stops the node at start instead of misrouting reports.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use lapor_schemas::ReportKind;
use serde::{Deserialize, Serialize};

/// Words with a meaning of their own that no keyword may take.
pub const RESERVED_WORDS: &[&str] = &["CEK"];

/// `[sms]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Serve `/channels/sms/kannel`.
    pub enabled: bool,
    /// Shared secret Kannel sends as `token` (prefer `token_file`).
    pub token: String,
    /// File holding the shared secret; refused when readable by other users.
    pub token_file: Option<PathBuf>,
    /// The short number citizens write to, named in replies.
    pub number: String,
    /// This node's keyword (e.g. `KOTKUPANG`): reports go to its admin queue. Empty: none.
    pub keyword: String,
    /// Keywords of this node's agencies: keyword -> agency id (e.g. `PUPRKUPANG = "dinas-pupr"`).
    pub agency_keywords: BTreeMap<String, String>,
    /// Second keywords that set the kind: keyword -> `aspiration` or `information_request`.
    pub kind_keywords: BTreeMap<String, String>,
    /// The keyword that files anonymously.
    pub anonymous_keyword: String,
    /// Messages one number may send per hour; more are answered politely and not filed.
    pub rate_per_hour: u32,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            token: String::new(),
            token_file: None,
            number: "1708".into(),
            keyword: String::new(),
            agency_keywords: BTreeMap::new(),
            kind_keywords: BTreeMap::from([
                ("ASPIRASI".to_owned(), "aspiration".to_owned()),
                ("INFO".to_owned(), "information_request".to_owned()),
            ]),
            anonymous_keyword: "ANONIM".into(),
            rate_per_hour: 10,
        }
    }
}

/// Whether `w` can be a keyword: 2..=20 of A-Z and 0-9.
pub fn valid_keyword(w: &str) -> bool {
    (2..=20).contains(&w.len())
        && w.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl SmsConfig {
    /// The shared secret: from `token_file`, else `token`. `None` when neither is set.
    pub fn secret(&self) -> anyhow::Result<Option<String>> {
        if let Some(file) = &self.token_file {
            super::check_secret_file(file).context("sms.token_file")?;
            let t = std::fs::read_to_string(file)
                .with_context(|| format!("sms.token_file: reading {}", file.display()))?;
            return Ok(Some(t.trim().to_owned()).filter(|t| !t.is_empty()));
        }
        Ok(Some(self.token.trim().to_owned()).filter(|t| !t.is_empty()))
    }

    /// The kind a second keyword sets.
    pub fn kind_of(&self, word: &str) -> Option<ReportKind> {
        self.kind_keywords
            .get(word)
            .and_then(|k| ReportKind::parse(k))
    }

    /// Checks values that types alone cannot.
    pub fn check(&self) -> anyhow::Result<()> {
        if !(1..=3600).contains(&self.rate_per_hour) {
            bail!("sms.rate_per_hour must be between 1 and 3600");
        }
        if self.number.is_empty()
            || self.number.len() > 16
            || !self.number.bytes().all(|b| b.is_ascii_digit() || b == b'+')
        {
            bail!("sms.number `{}` must be 1..=16 digits", self.number);
        }
        let mut seen: Vec<String> = Vec::new();
        let mut word = |key: &str, w: &str| -> anyhow::Result<()> {
            if !valid_keyword(w) {
                bail!("{key}: keyword `{w}` must be 2..=20 of A-Z and 0-9 (upper case)");
            }
            if RESERVED_WORDS.contains(&w) {
                bail!("{key}: `{w}` is reserved");
            }
            if seen.iter().any(|s| s == w) {
                bail!("{key}: keyword `{w}` is used twice");
            }
            seen.push(w.to_owned());
            Ok(())
        };
        word("sms.anonymous_keyword", &self.anonymous_keyword)?;
        if !self.keyword.is_empty() {
            word("sms.keyword", &self.keyword)?;
        }
        for (k, agency) in &self.agency_keywords {
            word("sms.agency_keywords", k)?;
            if agency.trim().is_empty() {
                bail!("sms.agency_keywords: `{k}` names no agency");
            }
        }
        for (k, kind) in &self.kind_keywords {
            word("sms.kind_keywords", k)?;
            if !matches!(
                ReportKind::parse(kind),
                Some(ReportKind::Aspiration | ReportKind::InformationRequest)
            ) {
                bail!("sms.kind_keywords: `{k}` must map to `aspiration` or `information_request`, not `{kind}`");
            }
        }
        if self.enabled {
            match self.secret()? {
                Some(t) if t.len() >= 16 => {}
                Some(_) => bail!("sms.token must be at least 16 characters"),
                None => bail!("sms.enabled needs sms.token_file or sms.token"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_checked() {
        let ok = SmsConfig {
            keyword: "KOTKUPANG".into(),
            ..SmsConfig::default()
        };
        ok.check().unwrap();
        for bad in ["kotkupang", "K", "CEK", "ANONIM", "KOT KUPANG"] {
            let c = SmsConfig {
                keyword: bad.into(),
                ..SmsConfig::default()
            };
            assert!(c.check().is_err(), "{bad}");
        }
        let c = SmsConfig {
            enabled: true,
            ..SmsConfig::default()
        };
        assert!(c.check().unwrap_err().to_string().contains("sms.token"));
        let c = SmsConfig {
            enabled: true,
            token: "short".into(),
            ..SmsConfig::default()
        };
        assert!(c.check().is_err());
        let mut c = SmsConfig::default();
        c.kind_keywords.insert("KELUH".into(), "complaint".into());
        assert!(c.check().is_err());
        assert_eq!(
            SmsConfig::default().kind_of("ASPIRASI"),
            Some(ReportKind::Aspiration)
        );
    }
}
