//! Email over SMTP with lettre (tokio, rustls). The Message-ID is derived from the notice id, so a notice
//! sent again after a crash carries the same Message-ID and mail clients and archives can recognise the copy.

use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{secret, EmailConfig, TlsMode};
use super::text::Letter;
use super::Attempt;

/// `List-Unsubscribe` (RFC 2369) with `List-Unsubscribe-Post` (RFC 8058) beside it.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// Sends email through one SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// Builds the transport `[notifications.email]` describes (connections are made per send).
    pub fn new(c: &EmailConfig) -> anyhow::Result<Self> {
        let from: Mailbox = c
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("notifications.email.from: {e}"))?;
        let mut builder = match c.tls {
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
            TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
                .tls(Tls::Required(TlsParameters::new(c.host.clone())?)),
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
                .tls(Tls::Wrapper(TlsParameters::new(c.host.clone())?)),
        }
        .port(c.port)
        .timeout(Some(Duration::from_secs(c.timeout_secs)));
        if !c.user.is_empty() {
            let password = secret("", c.password_file.as_ref())?;
            builder = builder.credentials(Credentials::new(c.user.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// The domain of the sender, for Message-IDs.
    fn domain(&self) -> &str {
        self.from.email.domain()
    }

    /// The stable Message-ID of a notice.
    pub fn message_id(&self, notice_id: &str) -> String {
        format!(
            "<notice.{}@{}>",
            notice_id.to_ascii_lowercase(),
            self.domain()
        )
    }

    /// Sends one letter to `to`.
    pub async fn send(
        &self,
        notice_id: &str,
        to: &str,
        letter: &Letter,
        unsubscribe: Option<&str>,
    ) -> Attempt {
        let to: Mailbox = match to.parse() {
            Ok(m) => m,
            Err(e) => return Attempt::Permanent(format!("invalid recipient address: {e}")),
        };
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject.clone())
            .message_id(Some(self.message_id(notice_id)));
        if let Some(u) = unsubscribe {
            b = b
                .header(ListUnsubscribe(u.to_owned()))
                .header(ListUnsubscribePost);
        }
        let message = match b.multipart(MultiPart::alternative_plain_html(
            letter.plain.clone(),
            letter.html.clone(),
        )) {
            Ok(m) => m,
            Err(e) => return Attempt::Permanent(format!("the message could not be built: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Attempt::Sent,
            Err(e) if e.is_permanent() => Attempt::Permanent(format!("SMTP refused it: {e}")),
            Err(e) => Attempt::Retry(format!("SMTP: {e}")),
        }
    }
}
