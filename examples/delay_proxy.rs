//! A TCP proxy on 127.0.0.1 that delays every byte by a fixed time in each direction: the network
//! hop between application servers and Redis in `npm run bench:e2e2` (this kernel has no `tc netem`).
//! Delays are pipelined, as on a wire: a chunk read at t leaves at t + delay, whatever came before.
//! Sub-millisecond delays need threads that sleep on the OS's high-resolution timers (async
//! runtimes round timers up to a millisecond), so each connection has a reader and a writer thread
//! per direction.
//!
//! `cargo run --release --example delay_proxy -- <upstream port> <one-way delay µs>` prints
//! `listening <port>` once it accepts connections, and runs until killed.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(upstream), Some(delay)) = (
        args.get(1).and_then(|a| a.parse::<u16>().ok()),
        args.get(2).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: delay_proxy <upstream port> <one-way delay µs>");
        std::process::exit(2);
    };
    let delay = Duration::from_micros(delay);
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("delay_proxy: cannot listen: {error}");
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!("listening {port}");
    for client in listener.incoming().flatten() {
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        for (from, to) in [(&client, &server), (&server, &client)] {
            if let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) {
                relay(from, to, delay);
            }
        }
    }
}

/// Copies `from` to `to`, each chunk held until `delay` after it was read.
fn relay(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (chunks, arrivals) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        // The sender drops here: the writer finishes what is queued, then closes its side.
    });
    std::thread::spawn(move || {
        for (read_at, chunk) in arrivals {
            let due = read_at + delay;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
