//! A TCP proxy between an agent and the server that misbehaves on purpose,
//! one connection at a time: it loses the answer after the server has
//! committed, cuts or resets a request in the middle of its body, truncates
//! the answer, or slows traffic down. Faults are queued one by one
//! ([`FaultProxy::inject`]) or drawn at random for each new connection from a
//! seed ([`FaultProxy::set_random`]), and counted by kind.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::Rng;

/// What to do to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward the request, wait until the server starts answering (so it has
    /// committed), then close the connection without passing the answer on.
    DropResponse,
    /// Forward only the first `bytes` of the request, then close both sides.
    CutRequest {
        /// Bytes forwarded before the cut.
        bytes: usize,
    },
    /// Forward only the first `bytes` of what the agent sends, then reset
    /// both connections (TCP RST, as a crashed router or a NAT timeout does).
    ResetRequest {
        /// Bytes forwarded before the reset.
        bytes: usize,
    },
    /// Forward the requests whole but only the first `bytes` of the answers
    /// (the server has done its work), then close both sides.
    TruncateResponse {
        /// Bytes of the answers passed on.
        bytes: usize,
    },
    /// Forward everything, waiting this long before each chunk.
    Delay(Duration),
}

impl Fault {
    /// Every kind, in the order [`Fault::kind`] numbers them.
    pub const KINDS: [&'static str; 5] = [
        "drop_response",
        "cut_request",
        "reset_request",
        "truncate_response",
        "delay",
    ];

    /// The index of this fault's kind in [`Fault::KINDS`].
    pub fn kind(&self) -> usize {
        match self {
            Fault::DropResponse => 0,
            Fault::CutRequest { .. } => 1,
            Fault::ResetRequest { .. } => 2,
            Fault::TruncateResponse { .. } => 3,
            Fault::Delay(_) => 4,
        }
    }

    /// A fault of a random kind: byte counts spread from one byte to 256 KiB
    /// (evenly over their powers of two, so short and long cuts are both
    /// common), delays of 1 to 20 ms per chunk.
    pub fn random(rng: &mut Rng) -> Fault {
        let bytes = |rng: &mut Rng| usize::try_from(rng.spread(18)).unwrap_or(usize::MAX);
        match rng.below(5) {
            0 => Fault::DropResponse,
            1 => Fault::CutRequest { bytes: bytes(rng) },
            2 => Fault::ResetRequest { bytes: bytes(rng) },
            3 => Fault::TruncateResponse { bytes: bytes(rng) },
            _ => Fault::Delay(Duration::from_millis(1 + rng.below(20))),
        }
    }
}

/// Random faults: each new connection without a queued fault gets one of a
/// random kind ([`Fault::random`]) `percent` times in a hundred.
#[derive(Debug)]
struct RandomFaults {
    rng: Rng,
    percent: u64,
}

/// Bytes and connections that went through the proxy.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Bytes from the agent to the server (request lines, headers, bodies).
    pub up: AtomicUsize,
    /// Bytes from the server to the agent.
    pub down: AtomicUsize,
    /// TCP connections accepted.
    pub connections: AtomicUsize,
}

impl Traffic {
    /// (up, down, connections) so far.
    pub fn snapshot(&self) -> (usize, usize, usize) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
            self.connections.load(Ordering::Relaxed),
        )
    }
}

/// A proxy on 127.0.0.1 in front of `upstream` (stopped when dropped).
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    random: Arc<Mutex<Option<RandomFaults>>>,
    injected: Arc<[AtomicUsize; Fault::KINDS.len()]>,
    stop: Arc<AtomicBool>,
    traffic: Arc<Traffic>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream`; connections pass through until faults are queued.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let address = listener.local_addr().expect("proxy address");
        let faults: Arc<Mutex<VecDeque<Fault>>> = Arc::default();
        let random: Arc<Mutex<Option<RandomFaults>>> = Arc::default();
        let injected: Arc<[AtomicUsize; Fault::KINDS.len()]> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let traffic = Arc::new(Traffic::default());
        let (queue, count, stopping) = (faults.clone(), injected.clone(), stop.clone());
        let chance = random.clone();
        let counted = traffic.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                counted.connections.fetch_add(1, Ordering::Relaxed);
                let _ = client.set_nodelay(true);
                let counters = counted.clone();
                let fault = queue
                    .lock()
                    .ok()
                    .and_then(|mut q| q.pop_front())
                    .or_else(|| {
                        let mut random = chance.lock().ok()?;
                        let RandomFaults { rng, percent } = random.as_mut()?;
                        let percent = *percent;
                        rng.percent(percent).then(|| Fault::random(rng))
                    });
                if let Some(fault) = fault {
                    count[fault.kind()].fetch_add(1, Ordering::Relaxed);
                }
                thread::spawn(move || {
                    if let Ok(server) = TcpStream::connect(upstream) {
                        let _ = server.set_nodelay(true);
                        handle(client, server, fault, &counters);
                    }
                });
            }
        });
        FaultProxy {
            address,
            faults,
            random,
            injected,
            stop,
            traffic,
        }
    }

    /// What went through so far.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The URL agents use to reach the server through the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Queues a fault for the next new connection.
    pub fn inject(&self, fault: Fault) {
        if let Ok(mut queue) = self.faults.lock() {
            queue.push_back(fault);
        }
    }

    /// From now on, gives each new connection without a queued fault a
    /// random one `percent` times in a hundred, drawn from `seed` (so a run
    /// that opens its connections in the same order gets the same faults);
    /// `None` stops that.
    pub fn set_random(&self, random: Option<(u64, u64)>) {
        if let Ok(mut current) = self.random.lock() {
            *current = random.map(|(seed, percent)| RandomFaults {
                rng: Rng(seed),
                percent,
            });
        }
    }

    /// Faults applied so far.
    pub fn injected(&self) -> usize {
        self.injected_by_kind().iter().map(|(_, n)| n).sum()
    }

    /// Faults applied so far, per kind (named as in [`Fault::KINDS`]).
    pub fn injected_by_kind(&self) -> Vec<(&'static str, usize)> {
        Fault::KINDS
            .iter()
            .zip(self.injected.iter())
            .map(|(kind, n)| (*kind, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Faults queued but not applied yet.
    pub fn queued(&self) -> usize {
        self.faults.lock().map(|q| q.len()).unwrap_or(0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

/// Copies `from` to `to` until `from` ends, a write fails or `limit` bytes
/// have passed; returns whether the limit was reached.
fn copy(
    from: &mut TcpStream,
    to: &mut TcpStream,
    delay: Option<Duration>,
    limit: Option<usize>,
    counter: &AtomicUsize,
) -> bool {
    let mut buffer = [0u8; 16 * 1024];
    let mut left = limit.unwrap_or(usize::MAX);
    while left > 0 {
        let want = left.min(buffer.len());
        match from.read(&mut buffer[..want]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                if let Some(delay) = delay {
                    thread::sleep(delay);
                }
                if to.write_all(&buffer[..n]).is_err() {
                    return false;
                }
                counter.fetch_add(n, Ordering::Relaxed);
                left -= n;
            }
        }
    }
    limit.is_some()
}

/// Copies `from` to `to` on a thread of its own, then ends `to`'s writing
/// side (unless `quietly` is set by then: the connection is being reset).
fn copy_in_background(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Option<Duration>,
    counter: impl Fn(&Traffic) -> &AtomicUsize + Send + 'static,
    traffic: &Arc<Traffic>,
    quietly: Option<Arc<AtomicBool>>,
) -> thread::JoinHandle<()> {
    let traffic = traffic.clone();
    thread::spawn(move || {
        copy(&mut from, &mut to, delay, None, counter(&traffic));
        if !quietly.is_some_and(|q| q.load(Ordering::Relaxed)) {
            let _ = to.shutdown(Shutdown::Write);
        }
    })
}

fn up(traffic: &Traffic) -> &AtomicUsize {
    &traffic.up
}

fn down(traffic: &Traffic) -> &AtomicUsize {
    &traffic.down
}

fn handle(client: TcpStream, server: TcpStream, fault: Option<Fault>, traffic: &Arc<Traffic>) {
    let (Ok(mut client_reader), Ok(mut server_reader), Ok(mut client_end), Ok(mut server_end)) = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    ) else {
        return;
    };
    match fault {
        None | Some(Fault::Delay(_)) => {
            let delay = match fault {
                Some(Fault::Delay(d)) => Some(d),
                _ => None,
            };
            let upwards = copy_in_background(client_reader, server, delay, up, traffic, None);
            copy(
                &mut server_reader,
                &mut client_end,
                delay,
                None,
                &traffic.down,
            );
            let _ = client_end.shutdown(Shutdown::Write);
            let _ = upwards.join();
        }
        Some(Fault::TruncateResponse { bytes }) => {
            let upwards = copy_in_background(client_reader, server, None, up, traffic, None);
            copy(
                &mut server_reader,
                &mut client_end,
                None,
                Some(bytes),
                &traffic.down,
            );
            // Enough passed on (or the server ended): the connection breaks.
            let _ = client_end.shutdown(Shutdown::Both);
            let _ = server_end.shutdown(Shutdown::Both);
            let _ = upwards.join();
        }
        Some(Fault::DropResponse) => {
            let upwards = copy_in_background(client_reader, server, None, up, traffic, None);
            let mut first = [0u8; 1];
            // The first byte of the answer: the server has done its work.
            let _ = server_reader.read(&mut first);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server_reader.shutdown(Shutdown::Both);
            let _ = upwards.join();
        }
        Some(Fault::CutRequest { bytes } | Fault::ResetRequest { bytes }) => {
            // Answers pass until the agent has sent `bytes` (a later request
            // on the same connection may be the one cut).
            let reset = matches!(fault, Some(Fault::ResetRequest { .. }));
            let quietly = Arc::new(AtomicBool::new(false));
            let downwards = copy_in_background(
                server_reader,
                client,
                None,
                down,
                traffic,
                Some(quietly.clone()),
            );
            let cut = copy(
                &mut client_reader,
                &mut server_end,
                None,
                Some(bytes),
                &traffic.up,
            );
            if !cut {
                // The agent finished first: an ordinary end.
                let _ = server_end.shutdown(Shutdown::Write);
            } else if reset {
                quietly.store(true, Ordering::Relaxed);
                // Closing every handle with a zero linger time sends RST, not FIN.
                for stream in [&client_end, &server_end] {
                    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
                }
                // Wakes the thread reading the server without sending anything.
                let _ = server_end.shutdown(Shutdown::Read);
            } else {
                let _ = server_end.shutdown(Shutdown::Both);
                let _ = client_end.shutdown(Shutdown::Both);
            }
            let _ = downwards.join();
            drop((client_reader, client_end, server_end));
        }
    }
}
