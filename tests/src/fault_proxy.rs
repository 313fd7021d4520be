//! A TCP proxy between an agent and the server that misbehaves on purpose,
//! one connection at a time: it loses the answer after the server has
//! committed, cuts a request in the middle of its body, or slows traffic down.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

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
    /// Forward everything, waiting this long before each chunk.
    Delay(Duration),
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
    injected: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    traffic: Arc<Traffic>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream`; connections pass through until faults are queued.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let address = listener.local_addr().expect("proxy address");
        let faults: Arc<Mutex<VecDeque<Fault>>> = Arc::default();
        let injected = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let traffic = Arc::new(Traffic::default());
        let (queue, count, stopping) = (faults.clone(), injected.clone(), stop.clone());
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
                let fault = queue.lock().ok().and_then(|mut q| q.pop_front());
                if fault.is_some() {
                    count.fetch_add(1, Ordering::Relaxed);
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

    /// Faults applied so far.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::Relaxed)
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

fn pump(mut from: TcpStream, mut to: TcpStream, delay: Option<Duration>, counter: &AtomicUsize) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(delay) = delay {
                    thread::sleep(delay);
                }
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn handle(client: TcpStream, server: TcpStream, fault: Option<Fault>, traffic: &Arc<Traffic>) {
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    match fault {
        None | Some(Fault::Delay(_)) => {
            let delay = match fault {
                Some(Fault::Delay(d)) => Some(d),
                _ => None,
            };
            let counters = traffic.clone();
            let up = thread::spawn(move || pump(client_reader, server, delay, &counters.up));
            pump(server_reader, client, delay, &traffic.down);
            let _ = up.join();
        }
        Some(Fault::DropResponse) => {
            let counters = traffic.clone();
            let up = thread::spawn(move || pump(client_reader, server, None, &counters.up));
            let mut first = [0u8; 1];
            let mut server_reader = server_reader;
            // The first byte of the answer: the server has done its work.
            let _ = server_reader.read(&mut first);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server_reader.shutdown(Shutdown::Both);
            let _ = up.join();
        }
        Some(Fault::CutRequest { bytes }) => {
            let mut client_reader = client_reader;
            let mut server = server;
            let mut forwarded = 0;
            let mut buffer = [0u8; 4096];
            while forwarded < bytes {
                let want = (bytes - forwarded).min(buffer.len());
                match client_reader.read(&mut buffer[..want]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if server.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                        forwarded += n;
                    }
                }
            }
            let _ = server.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}
