#![allow(clippy::unwrap_used, clippy::expect_used)]
//! deploy/nginx.conf.example as shipped, run by Debian's nginx in front of a real node (only the ports, the
//! upstream address and the certificate paths substituted; a throw-away self-signed certificate from openssl):
//! a citizen's 200 KB photo on the report form passes to the node, 100 KB on a route limited to 64k gets the
//! Indonesian page instead of nginx's bare 413, and the JSON API gets problem+json.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lapor_tests::cluster::Member;
use lapor_tests::{free_port, wait_until};

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn site_config(node_port: u16, http: u16, https: u16, dir: &Path) -> String {
    let conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx.conf.example"),
    )
    .unwrap();
    let replaced = conf
        .replace(
            "server 127.0.0.1:8080;",
            &format!("server 127.0.0.1:{node_port};"),
        )
        .replace("    listen [::]:80;\n", "")
        .replace("    listen [::]:443 ssl http2;\n", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace(
            "listen 443 ssl http2;",
            &format!("listen 127.0.0.1:{https} ssl http2;"),
        )
        .replace(
            "/etc/letsencrypt/live/lapor.kupangkota.go.id/fullchain.pem",
            &dir.join("cert.pem").display().to_string(),
        )
        .replace(
            "/etc/letsencrypt/live/lapor.kupangkota.go.id/privkey.pem",
            &dir.join("key.pem").display().to_string(),
        );
    assert_ne!(conf, replaced);
    assert!(!replaced.contains("8080;") && !replaced.contains("letsencrypt"));
    replaced
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_example_passes_photos_and_answers_oversized_bodies_in_indonesian() {
    assert!(
        Command::new("nginx").arg("-v").output().is_ok(),
        "nginx is not installed (Debian: apt-get install nginx; scripts/test-deps does it)"
    );
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("nginx");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let node_dir = root.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let mut m = Member {
        id: "kupangkota".into(),
        code: "KPG".into(),
        role: "regional".into(),
        dir: node_dir,
        port: free_port().unwrap(),
        env: vec![("LAPOR_NODE__ID".into(), "kupangkota".into())],
        public_key: String::new(),
        enc_public: String::new(),
        key_id: String::new(),
        node: None,
        admin: None,
    };
    m.start().unwrap();

    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let (http, https) = (free_port().unwrap(), free_port().unwrap());
    std::fs::write(
        dir.join("site.conf"),
        site_config(m.port, http, https, &dir),
    )
    .unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  \
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n"
        ),
    )
    .unwrap();
    let conf = dir.join("nginx.conf");
    let check = Command::new("nginx")
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _nginx = Nginx(
        Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{https}");
    wait_until(
        "nginx answers",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            let client = client.clone();
            let url = format!("{base}/healthz");
            async move {
                client
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        },
    )
    .await
    .unwrap();

    // http redirects to https.
    let r = client
        .get(format!("http://127.0.0.1:{http}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);

    // A 200 KB photo on the citizen form reaches the node (which answers it, not nginx's 413).
    let mut form = b"--x\r\ncontent-disposition: form-data; name=\"title\"\r\n\r\nJalan berlubang\r\n--x\r\n\
        content-disposition: form-data; name=\"photo\"; filename=\"foto.jpg\"\r\ncontent-type: image/jpeg\r\n\r\n"
        .to_vec();
    form.extend(std::iter::repeat_n(0xffu8, 200 * 1024));
    form.extend_from_slice(b"\r\n--x--\r\n");
    let r = client
        .post(format!("{base}/report"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 413, "the form route takes photos");

    // 100 KB on a 64k route: the Indonesian page, from nginx.
    let r = client
        .post(format!("{base}/officer/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r
        .headers()
        .get("server")
        .is_some_and(|s| s.to_str().unwrap().starts_with("nginx")));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Kiriman terlalu besar") && page.contains("lang=\"id\""),
        "{page}"
    );

    // And problem+json on the API.
    let r = client
        .post(format!("{base}/api/v1/reports"))
        .header("content-type", "application/json")
        .body(vec![b' '; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "body_too_large");

    // The federation route takes a 1 MiB push body through to the node (which refuses it for its own reasons).
    let r = client
        .post(format!("{base}/federation/v1/push"))
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 413);
    m.stop().unwrap();
}
