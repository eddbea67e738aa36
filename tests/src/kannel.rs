//! A real Kannel gateway for tests: Debian's `bearerbox` and `smsbox` run with the shipped
//! `deploy/kannel/kannel.conf` (only its ports, log paths, node address and secrets rewritten), and
//! `fakesmsc` from `kannel-extras` plays the operator's SMSC: it injects a message as a handset would and
//! prints what Kannel sends back. Every process is killed when the [`Kannel`] is dropped, also when a test
//! fails half-way.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::free_port;

/// The binaries, as `dpkg -L kannel kannel-extras` lists them.
const BEARERBOX: &str = "/usr/sbin/bearerbox";
const SMSBOX: &str = "/usr/sbin/smsbox";
const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";

/// The password of the `sendsms-user` in the rewritten configuration.
pub const SENDSMS_PASSWORD: &str = "sendsms-uji-rahasia";

/// One message as `fakesmsc` prints it: `<sender> <receiver> <type> <text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// Who sent it (the short number, for a reply).
    pub from: String,
    /// Who receives it.
    pub to: String,
    /// `text`, `data`, `ucs2` ...
    pub kind: String,
    /// The text (URL-encoded for types other than `text`).
    pub text: String,
}

fn parse_line(line: &str) -> Option<Sms> {
    let rest = line.split_once("Got message ")?.1;
    let inner = rest.split_once(": <")?.1.strip_suffix('>')?;
    let mut parts = inner.splitn(4, ' ');
    Some(Sms {
        from: parts.next()?.to_owned(),
        to: parts.next()?.to_owned(),
        kind: parts.next()?.to_owned(),
        text: parts.next().unwrap_or("").to_owned(),
    })
}

/// A running bearerbox + smsbox.
pub struct Kannel {
    bearerbox: Option<Child>,
    smsbox: Option<Child>,
    /// Where the configuration and the logs are.
    pub dir: PathBuf,
    /// The fake SMSC's port (fakesmsc connects to it).
    pub smsc_port: u16,
    /// smsbox's sendsms port (`http://127.0.0.1:PORT/cgi-bin/sendsms`).
    pub sendsms_port: u16,
    /// The bearerbox admin port.
    pub admin_port: u16,
}

impl std::fmt::Debug for Kannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kannel")
            .field("dir", &self.dir)
            .field("smsc_port", &self.smsc_port)
            .finish_non_exhaustive()
    }
}

/// The shipped configuration with `node_base` as the node, `token` as the shared secret, free ports and
/// logs under `dir`. Fails when a line it rewrites is no longer in the shipped file.
pub fn config(dir: &Path, node_base: &str, token: &str, ports: [u16; 4]) -> anyhow::Result<String> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kannel/kannel.conf");
    let mut conf = std::fs::read_to_string(&shipped)
        .with_context(|| format!("reading {}", shipped.display()))?;
    let [admin, boxes, sendsms, smsc] = ports;
    let logs = format!("{}/", dir.display());
    for (from, to) in [
        ("admin-port = 13000", format!("admin-port = {admin}")),
        ("smsbox-port = 13001", format!("smsbox-port = {boxes}")),
        (
            "bearerbox-port = 13001",
            format!("bearerbox-port = {boxes}"),
        ),
        ("sendsms-port = 13013", format!("sendsms-port = {sendsms}")),
        ("port = 10000", format!("port = {smsc}")),
        ("/var/log/kannel/", logs),
        (
            "http://127.0.0.1:8080/",
            format!("{}/", node_base.trim_end_matches('/')),
        ),
        ("CHANGE-ME-sms-token", token.to_owned()),
        ("CHANGE-ME-sendsms", SENDSMS_PASSWORD.to_owned()),
        ("CHANGE-ME-admin", "admin-uji".to_owned()),
    ] {
        anyhow::ensure!(
            conf.contains(from),
            "deploy/kannel/kannel.conf no longer has `{from}`"
        );
        conf = conf.replace(from, &to);
    }
    Ok(conf)
}

fn wait_port(
    port: u16,
    limit: Duration,
    what: &str,
    child: &mut Child,
    log: &Path,
) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{what} exited with {status} before listening on {port}; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        #[allow(clippy::disallowed_methods)]
        // start-up polling: nothing else is in flight while Kannel starts
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} did not listen on {port} within {limit:?}")
}

impl Kannel {
    /// Starts bearerbox, then smsbox, with the shipped configuration pointed at `node_base`.
    pub fn start(node_base: &str, token: &str) -> anyhow::Result<Self> {
        for bin in [BEARERBOX, SMSBOX, FAKESMSC] {
            anyhow::ensure!(
                Path::new(bin).exists(),
                "{bin} is missing: install the Debian packages kannel and kannel-extras"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("lapor-kannel")
            .tempdir()?
            .keep();
        let ports = [free_port()?, free_port()?, free_port()?, free_port()?];
        let conf_path = dir.join("kannel.conf");
        std::fs::write(&conf_path, config(&dir, node_base, token, ports)?)?;
        let spawn = |bin: &str, out: &str| -> anyhow::Result<Child> {
            Command::new(bin)
                .arg(&conf_path)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(dir.join(out))?)
                .stderr(std::fs::File::create(dir.join(format!("{out}.err")))?)
                .spawn()
                .with_context(|| format!("starting {bin}"))
        };
        let mut k = Self {
            bearerbox: None,
            smsbox: None,
            dir: dir.clone(),
            admin_port: ports[0],
            sendsms_port: ports[2],
            smsc_port: ports[3],
        };
        let mut bb = spawn(BEARERBOX, "bearerbox.out")?;
        let bb_wait = wait_port(
            ports[0],
            Duration::from_secs(20),
            "bearerbox",
            &mut bb,
            &dir.join("bearerbox.out"),
        );
        k.bearerbox = Some(bb);
        bb_wait?;
        let mut sb = spawn(SMSBOX, "smsbox.out")?;
        let sb_wait = wait_port(
            ports[2],
            Duration::from_secs(20),
            "smsbox",
            &mut sb,
            &dir.join("smsbox.out"),
        );
        k.smsbox = Some(sb);
        sb_wait?;
        Ok(k)
    }

    /// Injects one message through `fakesmsc` (`kind` is fakesmsc's type: `text`, `data`, `ucs2`, `udh`
    /// with the header first) and returns what Kannel sends back within `limit`: every part of the reply.
    pub fn send(
        &self,
        sender: &str,
        kind: &str,
        text: &str,
        limit: Duration,
    ) -> anyhow::Result<Vec<Sms>> {
        let mut child = Command::new(FAKESMSC)
            .args([
                "-H",
                "127.0.0.1",
                "-r",
                &self.smsc_port.to_string(),
                "-m",
                "1",
                "-i",
                "0.1",
            ])
            .arg(format!("{sender} 1708 {kind} {text}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting fakesmsc")?;
        let (tx, rx) = mpsc::channel::<String>();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        let mut seen = Vec::new();
        loop {
            // After the first part, the others follow within moments.
            let wait = if got.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::from_millis(800)
            };
            match rx.recv_timeout(wait) {
                Ok(line) => {
                    if let Some(sms) = parse_line(&line) {
                        got.push(sms);
                    }
                    seen.push(line);
                }
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        if got.is_empty() {
            bail!(
                "no reply through fakesmsc within {limit:?}; fakesmsc said:\n{}\nsmsbox log:\n{}",
                seen.join("\n"),
                self.log("smsbox.log")
            );
        }
        Ok(got)
    }

    /// One of Kannel's logs (`bearerbox.log`, `smsbox.log`, `access.log`).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        for child in [self.smsbox.take(), self.bearerbox.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fakesmsc_lines() {
        let line = "2026-12-03 14:58:51 [18730] [0] INFO: Got message 1: <1708 081234567890 text Terima kasih, kode KPG-ABC>";
        assert_eq!(
            parse_line(line),
            Some(Sms {
                from: "1708".into(),
                to: "081234567890".into(),
                kind: "text".into(),
                text: "Terima kasih, kode KPG-ABC".into()
            })
        );
        assert_eq!(parse_line("INFO: fakesmsc: sent message 1"), None);
    }
}
