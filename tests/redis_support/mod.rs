//! Shared by the Redis integration tests: a real `redis-server` on a free loopback port, killed when
//! the guard drops (a failed assertion included); a sink that records what it is told; and the
//! crate's `block_on`, which owes nothing to tokio (the tier's futures are executor-agnostic).
#![allow(dead_code)]

pub mod proxy;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};
use vendure_native_session_cache::redis::InvalidationSink;

/// The crate's own executor-free `block_on`: the tier's futures run on its runtime.
pub use vendure_native_session_cache::shared_tier::block_on;

/// Ports below Linux's ephemeral range (32768+), so that no outgoing connection takes a port a
/// test's server is about to (re)bind.
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

pub fn free_port() -> u16 {
    if NEXT_PORT.load(Ordering::Relaxed) == 0 {
        let start = 20_000 + (std::process::id() % 500) as u16 * 20;
        let _ = NEXT_PORT.compare_exchange(0, start, Ordering::Relaxed, Ordering::Relaxed);
    }
    loop {
        let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        assert!(port < 32_000, "no free port found");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn require_redis_server() {
    match Command::new("redis-server").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        _ => panic!(
            "redis-server is not installed, and the Redis tier's integration tests need it: \
             install it with `apt-get install -y redis-server` (.ci/run does)"
        ),
    }
}

/// A temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU16 = AtomicU16::new(0);
        let path = std::env::temp_dir().join(format!(
            "vsc-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `redis-server` of the test's own. Killed (SIGKILL) and reaped on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    args: Vec<String>,
    password: Option<String>,
    /// Serves TLS only (`--tls-port`), with these `--tls-*` arguments.
    tls: bool,
    dir: TempDir,
}

impl RedisServer {
    /// A server with no persistence.
    pub fn start() -> Self {
        Self::start_with(&["--save", "", "--appendonly", "no"])
    }

    /// A server with extra arguments (after `--port N --bind 127.0.0.1 --dir <temp>`).
    pub fn start_with(args: &[&str]) -> Self {
        require_redis_server();
        let password = args
            .windows(2)
            .find(|pair| pair[0] == "--requirepass")
            .map(|pair| pair[1].to_string());
        let mut server = Self {
            child: None,
            port: free_port(),
            args: args.iter().map(|a| a.to_string()).collect(),
            password,
            tls: false,
            dir: TempDir::new("redis"),
        };
        server.launch();
        server
    }

    /// A server that speaks TLS only, with this certificate and key, and no persistence.
    pub fn start_tls(cert: &Path, key: &Path) -> Self {
        require_redis_server();
        let mut server = Self {
            child: None,
            port: free_port(),
            args: vec![],
            password: None,
            tls: true,
            dir: TempDir::new("redis-tls"),
        };
        server.args = vec![
            "--save".into(),
            "".into(),
            "--tls-port".into(),
            server.port.to_string(),
            "--port".into(),
            "0".into(),
            "--tls-cert-file".into(),
            cert.display().to_string(),
            "--tls-key-file".into(),
            key.display().to_string(),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        server.launch();
        server
    }

    /// The running server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn launch(&mut self) {
        let started = Instant::now();
        loop {
            let child = Command::new("redis-server")
                .arg("--port")
                .arg(self.port.to_string())
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--daemonize",
                    "no",
                    "--loglevel",
                    "warning",
                ])
                .arg("--dir")
                .arg(self.dir.path())
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            self.child = Some(child);
            if self.wait_ready(Duration::from_secs(5)) {
                return;
            }
            // The port may still be held by the previous incarnation's sockets: try again.
            self.kill();
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "redis-server did not start on port {}",
                self.port
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if self.tls {
                if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    return true;
                }
            } else if let Ok(reply) = self.raw_command(&["PING"]) {
                if reply.starts_with("+PONG") {
                    return true;
                }
            }
            thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// One command over a fresh socket (inline protocol), authenticated if the server needs it.
    fn raw_command(&self, words: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_millis(500)))?;
        let mut request = String::new();
        if let Some(password) = &self.password {
            request.push_str(&format!("AUTH {password}\r\n"));
        }
        request.push_str(&words.join(" "));
        request.push_str("\r\n");
        stream.write_all(request.as_bytes())?;
        let mut reply = String::new();
        let mut buffer = [0u8; 512];
        let expected_lines = if self.password.is_some() { 2 } else { 1 };
        while reply.matches("\r\n").count() < expected_lines {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            reply.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
        Ok(reply.lines().last().unwrap_or_default().to_string())
    }

    /// SIGKILL: no save, sockets reset at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port, with the same arguments and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A synchronous redis-rs connection for looking at what the tier stored.
    pub fn connection(&self) -> redis::Connection {
        let url = match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => self.url(),
        };
        redis::Client::open(url)
            .and_then(|client| client.get_connection())
            .expect("connect to the test's redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Key(String),
    All,
}

/// Records every call, with when it arrived.
#[derive(Default)]
pub struct RecordingSink {
    heard: Mutex<Vec<(Instant, Heard)>>,
    changed: Condvar,
}

impl RecordingSink {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Instant, Heard)>> {
        self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn heard(&self) -> Vec<Heard> {
        self.lock().iter().map(|(_, h)| h.clone()).collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// When `what` was first heard after `since`, waiting at most `within`.
    pub fn wait_for(&self, what: &Heard, since: Instant, within: Duration) -> Option<Instant> {
        let deadline = Instant::now() + within;
        let mut heard = self.lock();
        loop {
            if let Some((at, _)) = heard.iter().find(|(at, h)| h == what && *at >= since) {
                return Some(*at);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            heard = self
                .changed
                .wait_timeout(heard, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn record(&self, what: Heard) {
        self.lock().push((Instant::now(), what));
        self.changed.notify_all();
    }
}

impl InvalidationSink for RecordingSink {
    fn invalidate(&self, key_hash: &str) {
        self.record(Heard::Key(key_hash.to_string()));
    }

    fn invalidate_all(&self) {
        self.record(Heard::All);
    }
}

/// Held by a test for its whole run, so that the tests of one binary run one at a time: their
/// timing assertions (every call under 50 ms, invalidations within 100 ms) then measure the tier,
/// not two cores shared by a dozen servers and tiers.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls `condition` every 5 ms for at most `within`.
pub fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}
