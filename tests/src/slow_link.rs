//! A TCP proxy that behaves like a bad rural link (2G/EDGE): limited
//! bandwidth each way, a fixed one-way delay, and packet loss — on loopback,
//! without root or kernel queueing disciplines (this machine has no `netem`).
//!
//! The stream is cut into segments of [`SEGMENT`] bytes (one TCP segment).
//! Each direction is a serial link: a segment occupies it for `len / rate`
//! seconds, then arrives `one_way` later. A lost segment (probability
//! `loss`, from a seeded generator) is sent again after a retransmission
//! timeout of `max(200 ms, 2 × one_way)` — Linux's minimum RTO, or about one
//! round trip — and occupies the link a second time; everything behind it
//! waits (TCP delivers in order). That is what loss does to one TCP
//! connection, minus congestion-window effects, so figures measured through
//! it are, if anything, a little optimistic about loss.
//!
//! [`SlowLink::cut_after`] takes the link down after a number of bytes more
//! have gone up (the connection carrying them is cut mid-stream, new ones are
//! refused) until it is called with 0: a sync interrupted at a chosen point.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes per emulated TCP segment.
pub const SEGMENT: usize = 1460;

/// The link's shape.
#[derive(Clone, Copy, Debug)]
pub struct LinkShape {
    /// Bits per second, each direction.
    pub bits_per_second: u64,
    /// One-way delay (half the round-trip time).
    pub one_way: Duration,
    /// Probability that a segment is lost (and sent again).
    pub loss: f64,
    /// Seed of the loss generator.
    pub seed: u64,
}

impl LinkShape {
    /// 64 kbit/s, 300 ms round trip, 5 % loss: the EDGE link.
    pub fn edge(seed: u64) -> LinkShape {
        LinkShape {
            bits_per_second: 64_000,
            one_way: Duration::from_millis(150),
            loss: 0.05,
            seed,
        }
    }
}

/// What crossed the link.
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Bytes from the client to the server.
    pub up: AtomicU64,
    /// Bytes from the server to the client.
    pub down: AtomicU64,
    /// Bytes from the client that have reached the server (`up` counts
    /// them when the link takes them, this once they arrive).
    pub delivered_up: AtomicU64,
    /// Segments lost and sent again.
    pub lost: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
}

/// A running slow link in front of `upstream`.
#[derive(Debug)]
pub struct SlowLink {
    address: SocketAddr,
    counters: Arc<LinkCounters>,
    /// The total of bytes up at which the link goes down (`u64::MAX`: never).
    cut_at: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

struct Lossy {
    state: u64,
    loss: f64,
}

impl Lossy {
    fn lost(&mut self) -> bool {
        // splitmix64
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 <= self.loss
    }
}

impl SlowLink {
    /// Starts the link on a free loopback port.
    pub fn start(upstream: SocketAddr, shape: LinkShape) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let address = listener.local_addr().expect("address");
        let counters = Arc::new(LinkCounters::default());
        let cut_at = Arc::new(AtomicU64::new(u64::MAX));
        let stop = Arc::new(AtomicBool::new(false));
        let lossy = Arc::new(Mutex::new(Lossy {
            state: shape.seed,
            loss: shape.loss,
        }));
        {
            let (counters, cut_at, stop) = (
                Arc::clone(&counters),
                Arc::clone(&cut_at),
                Arc::clone(&stop),
            );
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if counters.up.load(Ordering::Relaxed) >= cut_at.load(Ordering::Relaxed) {
                        // The link is down: the connection goes nowhere.
                        drop(client);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    counters.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    for (from, to, up) in [
                        (client.try_clone(), server.try_clone(), true),
                        (server.try_clone(), client.try_clone(), false),
                    ] {
                        let (Ok(from), Ok(to)) = (from, to) else {
                            continue;
                        };
                        let (counters, lossy, cut_at) = (
                            Arc::clone(&counters),
                            Arc::clone(&lossy),
                            Arc::clone(&cut_at),
                        );
                        thread::spawn(move || {
                            direction(from, to, shape, &counters, &lossy, up, &cut_at);
                        });
                    }
                }
            });
        }
        SlowLink {
            address,
            counters,
            cut_at,
            stop,
        }
    }

    /// The URL agents use instead of the server's.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// What crossed it so far.
    pub fn counters(&self) -> &LinkCounters {
        &self.counters
    }

    /// Takes the link down once `bytes` more have gone up (0: up again).
    pub fn cut_after(&self, bytes: u64) {
        let at = if bytes == 0 {
            u64::MAX
        } else {
            self.counters.up.load(Ordering::Relaxed) + bytes
        };
        self.cut_at.store(at, Ordering::Relaxed);
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.address);
    }
}

/// One direction of one connection: segments are read as they come, given
/// their arrival time on the emulated link, and written at that time.
fn direction(
    mut from: TcpStream,
    to: TcpStream,
    shape: LinkShape,
    counters: &Arc<LinkCounters>,
    lossy: &Mutex<Lossy>,
    up: bool,
    cut_at: &AtomicU64,
) {
    let (sender, receiver) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = {
        let mut to = to;
        let counters = Arc::clone(counters);
        thread::spawn(move || {
            for (at, segment) in receiver {
                let now = Instant::now();
                if at > now {
                    thread::sleep(at - now);
                }
                if to.write_all(&segment).is_err() {
                    break;
                }
                if up {
                    counters
                        .delivered_up
                        .fetch_add(segment.len() as u64, Ordering::Relaxed);
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    let per_byte = Duration::from_secs_f64(8.0 / shape.bits_per_second as f64);
    let rto = (shape.one_way * 2).max(Duration::from_millis(200));
    let mut link_free = Instant::now();
    let mut last_arrival = Instant::now();
    let mut buffer = vec![0u8; SEGMENT];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut segment = &buffer[..n];
        let mut cut = false;
        if up {
            let total = counters.up.load(Ordering::Relaxed);
            let at = cut_at.load(Ordering::Relaxed);
            if total + n as u64 >= at {
                let keep = usize::try_from(at.saturating_sub(total)).unwrap_or(0);
                segment = &segment[..keep.min(n)];
                cut = true;
            }
        }
        let transmit = per_byte * u32::try_from(segment.len()).unwrap_or(u32::MAX);
        let start = link_free.max(Instant::now());
        let mut done = start + transmit;
        let lost = lossy.lock().map(|mut l| l.lost()).unwrap_or(false);
        if lost {
            counters.lost.fetch_add(1, Ordering::Relaxed);
            // Sent again after the timeout, occupying the link again.
            done = done + rto + transmit;
        }
        link_free = done;
        let arrival = (done + shape.one_way).max(last_arrival);
        last_arrival = arrival;
        let counter = if up { &counters.up } else { &counters.down };
        counter.fetch_add(segment.len() as u64, Ordering::Relaxed);
        if sender.send((arrival, segment.to_vec())).is_err() {
            break;
        }
        if cut {
            break;
        }
    }
    drop(sender);
    let _ = writer.join();
    let _ = from.shutdown(Shutdown::Both);
}
