//! A TCP proxy on loopback that a test can hang, cut and delay, per kind of connection (the
//! tier's pub/sub connection, or its data connections), to hold a reply in flight or make a
//! connection silent without closing it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A connection that sent SUBSCRIBE: the invalidation channel.
    PubSub,
    /// Any other: data commands, validation, probes.
    Data,
}

/// One proxied connection: its sockets, what kind it is, and whether it is held.
struct Conn {
    client: TcpStream,
    upstream: TcpStream,
    pubsub: AtomicBool,
    /// Forward the chunk held now, then reset the connection before reading anything more.
    cut_after_held: AtomicBool,
    hung: Mutex<bool>,
    released: Condvar,
}

impl Conn {
    fn kind(&self) -> Kind {
        if self.pubsub.load(Ordering::Acquire) {
            Kind::PubSub
        } else {
            Kind::Data
        }
    }

    /// Blocks while the connection is hung (the bytes read stay held).
    fn wait_released(&self) {
        let mut hung = self.hung.lock().unwrap_or_else(|p| p.into_inner());
        while *hung {
            hung = self.released.wait(hung).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn set_hung(&self, value: bool) {
        *self.hung.lock().unwrap_or_else(|p| p.into_inner()) = value;
        self.released.notify_all();
    }
}

pub struct FaultProxy {
    pub port: u16,
    conns: Arc<Mutex<Vec<Arc<Conn>>>>,
    /// Added before every chunk is forwarded, in both directions (µs).
    delay_us: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Forwards 127.0.0.1:`port` (a free one) to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let conns: Arc<Mutex<Vec<Arc<Conn>>>> = Arc::default();
        let delay_us = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (conns, delay_us, stop) = (conns.clone(), delay_us.clone(), stop.clone());
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    let conn = Arc::new(Conn {
                        client,
                        upstream,
                        pubsub: AtomicBool::new(false),
                        cut_after_held: AtomicBool::new(false),
                        hung: Mutex::new(false),
                        released: Condvar::new(),
                    });
                    conns
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn.clone());
                    for to_server in [true, false] {
                        let (conn, delay_us) = (conn.clone(), delay_us.clone());
                        thread::spawn(move || pump(&conn, to_server, &delay_us));
                    }
                }
            });
        }
        Self {
            port,
            conns,
            delay_us,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn each(&self, kind: Kind, f: impl Fn(&Conn)) {
        for conn in self.conns.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if conn.kind() == kind {
                f(conn);
            }
        }
    }

    /// Holds every byte on the open connections of this kind (new ones pass), without closing them.
    pub fn hang(&self, kind: Kind) {
        self.each(kind, |c| c.set_hung(true));
    }

    /// Forwards what was held, and everything after.
    pub fn release(&self, kind: Kind) {
        self.each(kind, |c| c.set_hung(false));
    }

    /// Forwards the one chunk each held connection of this kind has read (the first request sent
    /// after the hang), then resets it: whatever was sent after that never arrives.
    pub fn pass_held_then_cut(&self, kind: Kind) {
        self.each(kind, |c| {
            c.cut_after_held.store(true, Ordering::Release);
            c.set_hung(false);
        });
    }

    /// Resets the open connections of this kind.
    /// What was held is dropped, not forwarded.
    pub fn cut(&self, kind: Kind) {
        self.each(kind, |c| {
            let _ = c.client.shutdown(Shutdown::Both);
            let _ = c.upstream.shutdown(Shutdown::Both);
            c.set_hung(false);
        });
    }

    /// Delays every chunk forwarded from now on, both ways.
    pub fn delay(&self, delay: Duration) {
        self.delay_us
            .store(delay.as_micros() as u64, Ordering::Release);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for conn in self.conns.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            conn.set_hung(false);
            let _ = conn.client.shutdown(Shutdown::Both);
            let _ = conn.upstream.shutdown(Shutdown::Both);
        }
    }
}

fn pump(conn: &Conn, to_server: bool, delay_us: &AtomicU64) {
    let (mut from, mut to) = match (
        if to_server {
            conn.client.try_clone()
        } else {
            conn.upstream.try_clone()
        },
        if to_server {
            conn.upstream.try_clone()
        } else {
            conn.client.try_clone()
        },
    ) {
        (Ok(from), Ok(to)) => (from, to),
        _ => return,
    };
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to_server
            && String::from_utf8_lossy(&buffer[..n])
                .to_ascii_uppercase()
                .contains("SUBSCRIBE")
        {
            conn.pubsub.store(true, Ordering::Release);
        }
        conn.wait_released();
        let delay = delay_us.load(Ordering::Acquire);
        if delay > 0 {
            thread::sleep(Duration::from_micros(delay));
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if conn.cut_after_held.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(20));
            let _ = conn.client.shutdown(Shutdown::Both);
            let _ = conn.upstream.shutdown(Shutdown::Both);
            return;
        }
    }
    // Whatever was held has been forwarded: pass the close on.
    conn.wait_released();
    let _ = to.shutdown(Shutdown::Write);
}
