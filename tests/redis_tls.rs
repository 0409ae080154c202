//! `rediss://`: the tier over TLS, against a real `redis-server` serving TLS only, with certificates
//! made by `openssl` for the test. Its own test binary, because it points `SSL_CERT_FILE` (read by
//! rustls-native-certs) at the test's CA, which is process-wide.

mod redis_support;

use redis_support::{block_on, Heard, RecordingSink, RedisServer, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vendure_native_session_cache::redis::{Lookup, RedisTier, RedisTierConfig, SetOutcome};
use vendure_native_session_cache::time::{TimeSource, WallClock};

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("openssl is needed to make the test's certificates ({e}): apt-get install -y openssl")
        });
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA named `{name}-ca`, and a certificate for 127.0.0.1 it signed: `{name}.crt`, `{name}.key`.
fn make_certificates(dir: &Path, name: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca_subject = format!("/CN={name}-ca");
    let ca_key = format!("{name}-ca.key");
    let ca_crt = format!("{name}-ca.crt");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let crt = format!("{name}.crt");
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca_crt,
        "-days",
        "2",
        "-subj",
        &ca_subject,
    ]);
    openssl(dir, &args);
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
    openssl(dir, &args);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

fn config(url: &str) -> RedisTierConfig {
    let mut config = RedisTierConfig::new(url, "tls-secret");
    config.connect_timeout = Duration::from_secs(2);
    config
}

#[test]
fn rediss_urls_work_and_an_untrusted_certificate_is_refused() {
    let dir = TempDir::new("tls");
    make_certificates(dir.path(), "trusted");
    make_certificates(dir.path(), "stranger");
    std::env::set_var("SSL_CERT_FILE", dir.path().join("trusted-ca.crt"));

    let server = RedisServer::start_tls(
        &dir.path().join("trusted.crt"),
        &dir.path().join("trusted.key"),
    );
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let a = block_on(RedisTier::connect(config(&url), RecordingSink::new())).expect("connect A");
    let b_heard = RecordingSink::new();
    let b = block_on(RedisTier::connect(config(&url), b_heard.clone())).expect("connect B");
    let token = "tls-token";
    let since = Instant::now();
    assert_eq!(
        block_on(a.set(token, b"{}", WallClock.now_ms() + 60_000)),
        SetOutcome::Stored
    );
    assert_eq!(block_on(b.get(token)), Lookup::Hit(b"{}".to_vec()));
    assert!(b_heard
        .wait_for(
            &Heard::Key(a.key_hash(token)),
            since,
            Duration::from_millis(100)
        )
        .is_some());

    // A server whose certificate no trusted CA signed.
    let stranger = RedisServer::start_tls(
        &dir.path().join("stranger.crt"),
        &dir.path().join("stranger.key"),
    );
    let url = format!("rediss://:pw@127.0.0.1:{}/0", stranger.port);
    let error = block_on(RedisTier::connect(config(&url), RecordingSink::new())).unwrap_err();
    let message = error.to_string();
    println!("{message}");
    assert!(
        message.contains(&format!("rediss://:***@127.0.0.1:{}/0", stranger.port)),
        "{message}"
    );
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}
