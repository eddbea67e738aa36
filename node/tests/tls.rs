#![allow(clippy::expect_used, clippy::unwrap_used)]
// The HTTPS test server's accept loop is a test fixture, not an application task.
#![allow(clippy::disallowed_methods)]
//! TLS between nodes with a private CA (`federation.ca_file`): a root CA, an issuing CA under it and a
//! server certificate for 127.0.0.1 and localhost are made here with rcgen, a server on 127.0.0.1 presents
//! the server certificate with the issuing CA (as a government PKI does), and the node's own peer client
//! ([`lapor_node::federation::peer_client`]) must reach it when `ca_file` holds the root, and must refuse it,
//! with the certificate error in the message, when it does not.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use lapor_federation::transport::client::{FederationClient, TransportError};
use lapor_node::config::FederationConfig;
use lapor_node::federation::peer_client;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};

const BODY: &str = "halo dari node lain";

/// A certificate chain made for one test: the root's PEM, and what the server presents.
struct Chain {
    root_pem: String,
    /// Server certificate, then the issuing CA.
    presented: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn ca_params(name: &str, path_len: Option<u8>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Uji LAPOR!");
    params.is_ca = IsCa::Ca(path_len.map_or(BasicConstraints::Unconstrained, |n| {
        BasicConstraints::Constrained(n)
    }));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Root CA -> issuing CA -> server certificate for `127.0.0.1` and `localhost`.
fn make_chain(root_name: &str) -> Chain {
    let root =
        CertifiedIssuer::self_signed(ca_params(root_name, None), KeyPair::generate().unwrap())
            .unwrap();
    let issuing = CertifiedIssuer::signed_by(
        ca_params(&format!("{root_name} - issuing CA"), Some(0)),
        KeyPair::generate().unwrap(),
        &root,
    )
    .unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "lapor.uji.invalid");
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = params.signed_by(&server_key, &issuing).unwrap();
    Chain {
        root_pem: root.pem(),
        presented: vec![server.der().clone(), issuing.der().clone()],
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    }
}

/// Serves HTTPS with the chain on 127.0.0.1 until the test's runtime ends; every request gets 200 [`BODY`].
async fn serve(chain: Chain) -> SocketAddr {
    let provider = Arc::new(crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain.presented, chain.server_key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(BODY))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

fn write_pem(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

fn config(ca_file: Option<PathBuf>) -> FederationConfig {
    FederationConfig {
        ca_file,
        request_timeout_secs: 10,
        ..FederationConfig::default()
    }
}

/// The whole cause chain of an error, as the node logs it.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[tokio::test]
async fn peer_client_trusts_the_ca_of_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let chain = make_chain("Uji Root CA");
    let ca_file = write_pem(dir.path(), "root-ca.pem", &chain.root_pem);
    let addr = serve(chain).await;

    let client = peer_client(&config(Some(ca_file))).unwrap();
    for base in [
        format!("https://127.0.0.1:{}", addr.port()),
        format!("https://localhost:{}", addr.port()),
    ] {
        let response = client
            .get(format!("{base}/federation/v1/directory"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{base}: {}", chain_text(&e)));
        assert_eq!(response.status(), 200, "{base}");
        assert_eq!(response.text().await.unwrap(), BODY);

        // The same through the federation transport the push workers and pulls use.
        let fed = FederationClient::from_client(client.clone());
        let body = fed
            .get_bytes(&format!("{base}/federation/v1/directory"))
            .await
            .unwrap();
        assert_eq!(body, BODY.as_bytes());
    }
}

#[tokio::test]
async fn peer_client_refuses_a_private_ca_it_was_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let chain = make_chain("Uji Root CA");
    let other_root = make_chain("Another Root CA").root_pem;
    let addr = serve(chain).await;
    let url = format!("https://127.0.0.1:{}/federation/v1/directory", addr.port());

    let without = config(None);
    let with_other = config(Some(write_pem(dir.path(), "other.pem", &other_root)));
    for cfg in [without, with_other] {
        let client = peer_client(&cfg).unwrap();
        let err = client.get(&url).send().await.unwrap_err();
        let text = chain_text(&err);
        assert!(err.is_connect(), "{text}");
        assert!(
            text.contains("invalid peer certificate") && text.contains("UnknownIssuer"),
            "ca_file {:?}: {text}",
            cfg.ca_file
        );

        // The transport error the node logs and shows in federation status carries the cause.
        let fed = FederationClient::from_client(client);
        match fed.get_bytes(&url).await.unwrap_err() {
            TransportError::Connect(detail) => {
                assert!(detail.contains("invalid peer certificate"), "{detail}");
            }
            other => panic!("expected a connect error, got {other}"),
        }
    }
}

#[test]
fn peer_client_fails_on_a_bad_ca_file_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("pemerintah-ca.pem");
    let err = format!(
        "{:#}",
        peer_client(&config(Some(missing.clone()))).unwrap_err()
    );
    assert!(
        err.contains("federation.ca_file") && err.contains(&missing.display().to_string()),
        "{err}"
    );
    let key_only = write_pem(
        dir.path(),
        "key.pem",
        &KeyPair::generate().unwrap().serialize_pem(),
    );
    let err = format!("{:#}", peer_client(&config(Some(key_only))).unwrap_err());
    assert!(err.contains("holds no certificate"), "{err}");
}

/// Runs the `lapor` binary in `dir` with only the given `LAPOR_*` environment; (success, stdout + stderr).
fn lapor(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lapor"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LAPOR_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("LAPOR_NODE__DATA_DIR", dir)
        .envs(env.iter().copied())
        .args(args)
        .stdin(std::process::Stdio::null());
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn config_check_names_a_bad_ca_file_and_accepts_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("pemerintah-ca.pem");
    let missing_text = missing.display().to_string();
    let (ok, out) = lapor(
        dir.path(),
        &["config", "check"],
        &[("LAPOR_FEDERATION__CA_FILE", &missing_text)],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("federation.ca_file") && out.contains(&missing_text),
        "{out}"
    );

    let good = write_pem(
        dir.path(),
        "root-ca.pem",
        &make_chain("Uji Root CA").root_pem,
    );
    let good_text = good.display().to_string();
    let (ok, out) = lapor(
        dir.path(),
        &["config", "check"],
        &[("LAPOR_FEDERATION__CA_FILE", &good_text)],
    );
    assert!(ok, "{out}");
}

#[test]
fn peers_add_refuses_plain_http_off_loopback_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let add = |url: &str, env: &[(&str, &str)]| {
        lapor(
            dir.path(),
            &[
                "peers",
                "add",
                "--node-id",
                "hub",
                "--role",
                "hub",
                "--url",
                url,
                "--public-key",
                key,
            ],
            env,
        )
    };
    let (ok, out) = add("http://10.20.30.40:8080", &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("http://10.20.30.40:8080") && out.contains("federation.allow_http"),
        "{out}"
    );
    let (ok, out) = add("http://127.0.0.1:8080", &[]);
    assert!(ok, "{out}");
    let (ok, out) = add(
        "http://10.20.30.40:8080",
        &[("LAPOR_FEDERATION__ALLOW_HTTP", "true")],
    );
    assert!(ok, "{out}");
}
