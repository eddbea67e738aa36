//! Outbound SMS through Kannel's sendsms HTTP interface
//! (`/cgi-bin/sendsms?username=&password=&to=&from=&text=&charset=`). Kannel answers `0: Accepted for
//! delivery` or `3: Queued for later delivery` (HTTP 202) when it took the message; an authorisation or
//! request error (HTTP 4xx other than 429) is permanent; anything else (5xx, a refused connection, a timeout)
//! is retried.

use std::time::Duration;

use super::config::{secret, SmsConfig};
use super::Attempt;

/// Sends SMS through one Kannel smsbox.
pub struct Kannel {
    client: reqwest::Client,
    url: url::Url,
    user: String,
    password: String,
    from: String,
}

impl Kannel {
    /// The sender `[notifications.sms]` describes.
    pub fn new(c: &SmsConfig) -> anyhow::Result<Self> {
        let url = url::Url::parse(&c.sendsms_url)
            .map_err(|e| anyhow::anyhow!("notifications.sms.sendsms_url: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            url,
            user: c.user.clone(),
            password: secret(&c.password, c.password_file.as_ref())?,
            from: c.from.clone(),
        })
    }

    /// Sends `text` (GSM-7) to `to`.
    pub async fn send(&self, to: &str, text: &str) -> Attempt {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("username", &self.user)
            .append_pair("password", &self.password)
            .append_pair("to", to)
            .append_pair("text", text)
            .append_pair("charset", "UTF-8")
            .append_pair("coding", "0");
        if !self.from.is_empty() {
            url.query_pairs_mut().append_pair("from", &self.from);
        }
        let resp = match self.client.get(url).send().await {
            Ok(r) => r,
            // The error names the URL, which holds the password: say only what went wrong.
            Err(e) if e.is_timeout() => {
                return Attempt::Retry("Kannel did not answer in time".into())
            }
            Err(e) if e.is_connect() => {
                return Attempt::Retry("Kannel refused the connection".into())
            }
            Err(_) => return Attempt::Retry("the request to Kannel failed".into()),
        };
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        classify(status.as_u16(), body.trim())
    }
}

/// What Kannel's answer means.
pub fn classify(status: u16, body: &str) -> Attempt {
    let code = body.split(':').next().unwrap_or("").trim();
    let short: String = body.chars().take(200).collect();
    match (status, code) {
        (200..=299, "0" | "3") => Attempt::Sent,
        (429 | 500..=599, _) => Attempt::Retry(format!("Kannel answered {status}: {short}")),
        (400..=499, _) => Attempt::Permanent(format!("Kannel refused it ({status}): {short}")),
        _ => Attempt::Retry(format!("Kannel answered {status}: {short}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kannel_answers() {
        assert_eq!(classify(202, "0: Accepted for delivery"), Attempt::Sent);
        assert_eq!(classify(202, "3: Queued for later delivery"), Attempt::Sent);
        assert!(matches!(
            classify(403, "Authorization failed for sendsms"),
            Attempt::Permanent(_)
        ));
        assert!(matches!(
            classify(400, "Missing receiver number"),
            Attempt::Permanent(_)
        ));
        assert!(matches!(
            classify(503, "Sending failed."),
            Attempt::Retry(_)
        ));
        assert!(matches!(
            classify(202, "4: something else"),
            Attempt::Retry(_)
        ));
    }
}
