//! A real `lindung-agent serve` on a free loopback port with its own data
//! directory, and a tiny browser: plain HTTP/1.1 with a cookie jar, form
//! posts (urlencoded and multipart) and the CSRF token picked from the page.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};

use crate::binary;

/// A running UI (killed when dropped).
#[derive(Debug)]
pub struct AgentUi {
    dir: tempfile::TempDir,
    child: Child,
    address: SocketAddr,
}

impl AgentUi {
    /// Starts `lindung-agent serve --listen 127.0.0.1:0` on a fresh data
    /// directory (cheap key derivation), with extra environment variables.
    /// Returns once it printed its address: it is listening then.
    pub fn start(env: &[(&str, &str)]) -> AgentUi {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut command = Command::new(binary("lindung-agent"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--insecure-fast-kdf",
                "--sync-interval",
                "3600",
            ])
            .env_remove("LINDUNG_LANG")
            .env_remove("LINDUNG_PASSPHRASE")
            .env("LINDUNG_DATA_DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("lindung-agent serve starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reads the first line");
        let address = line
            .trim()
            .strip_prefix("lindung-agent UI: http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        AgentUi {
            dir,
            child,
            address,
        }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The data directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser {
            address: self.address,
            cookies: Vec::new(),
            host: self.address.to_string(),
        }
    }
}

impl Drop for AgentUi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer.
#[derive(Debug)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Headers (names in lower case).
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
    /// The body as sent (a download).
    pub bytes: Vec<u8>,
}

impl Page {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF token in:\n{}", self.body))
            + marker.len();
        self.body[start..start + 32].to_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A minimal browser: keeps cookies, sends forms.
#[derive(Debug)]
pub struct Browser {
    address: SocketAddr,
    cookies: Vec<(String, String)>,
    /// The `Host` header sent (the address by default).
    pub host: String,
}

impl Browser {
    /// `GET path`.
    pub fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, &[], &[])
    }

    /// `POST path` with an urlencoded form.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request(
            "POST",
            path,
            &[(
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body.as_bytes(),
        )
    }

    /// `POST path` as `multipart/form-data` with text fields and one file.
    pub fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        filename: &str,
        data: &[u8],
    ) -> Page {
        let boundary = "----lindungtestboundary7MA4YWxk";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.request(
            "POST",
            path,
            &[(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )],
            &body,
        )
    }

    /// Sends one request and keeps the cookies it sets.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Page {
        let mut stream = TcpStream::connect(self.address).expect("connects");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.host,
            body.len()
        );
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("head sent");
        stream.write_all(body).expect("body sent");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("answer read");
        let bytes = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|at| answer[at + 4..].to_vec())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        for (name, value) in &headers {
            if name == "set-cookie"
                && let Some((cookie, _)) = value.split(';').next().and_then(|c| {
                    c.split_once('=')
                        .map(|(n, v)| ((n.to_owned(), v.to_owned()), ()))
                })
            {
                self.cookies.retain(|(n, _)| *n != cookie.0);
                self.cookies.push(cookie);
            }
        }
        Page {
            status,
            headers,
            body: body.to_owned(),
            bytes,
        }
    }
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
