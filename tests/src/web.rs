//! A minimal browser for the staff dashboard's HTTP-level tests: one
//! request per connection, a cookie jar, form posts, and the response's
//! status, headers and body. Raw HTTP on purpose (like [`crate::raw_request`]):
//! tests can leave out what a browser would always send (a CSRF token).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;

/// A response.
#[derive(Debug, Clone)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy).
    pub body: String,
}

impl Page {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key == "set-cookie")
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The value of the first hidden `csrf` field on the page.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")?;
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        Some(rest[..rest.find('"')?].to_owned())
    }
}

/// A browser session against one server.
#[derive(Debug)]
pub struct Browser {
    address: SocketAddr,
    cookies: RefCell<BTreeMap<String, String>>,
}

impl Browser {
    /// A browser with no cookies.
    pub fn new(address: SocketAddr) -> Browser {
        Browser {
            address,
            cookies: RefCell::new(BTreeMap::new()),
        }
    }

    /// The cookie's current value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    /// Sets a cookie by hand (e.g. an old session id).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_owned(), value.to_owned());
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Page {
        self.request("GET", path, None, b"")
    }

    /// `POST path` with a urlencoded form.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
    }

    /// `POST path` with any body.
    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Page {
        self.request("POST", path, Some(content_type), body)
    }

    /// `POST path` as `multipart/form-data`, as a browser sends a form with
    /// a file input: text `fields`, then `files` as (field, file name, content).
    pub fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let boundary = "----lindung-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, file_name, content) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.request(
            "POST",
            path,
            Some(&format!("multipart/form-data; boundary={boundary}")),
            &body,
        )
    }

    /// Opens the login page and submits it.
    pub fn login(&self, login: &str, password: &str) -> Page {
        let form = self.get("/login");
        let token = form.csrf().expect("the login form has a csrf field");
        self.post(
            "/login",
            &[("csrf", &token), ("login", login), ("password", password)],
        )
    }

    fn request(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Page {
        let mut stream = std::net::TcpStream::connect(self.address).expect("connects");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        if let Some(kind) = content_type {
            head.push_str(&format!("Content-Type: {kind}\r\n"));
        }
        let cookies = self.cookies.borrow();
        if !cookies.is_empty() {
            let jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        drop(cookies);
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("head sent");
        stream.write_all(body).expect("body sent");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let mut raw_body = answer[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            raw_body = dechunk(&raw_body);
        }
        let page = Page {
            status,
            headers,
            body: String::from_utf8_lossy(&raw_body).into_owned(),
        };
        let mut jar = self.cookies.borrow_mut();
        for cookie in page.set_cookies() {
            let first = cookie.split(';').next().unwrap_or("");
            if let Some((name, value)) = first.split_once('=') {
                if cookie.contains("Max-Age=0") || value.is_empty() {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        page
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || data.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[(end + 4 + size).min(data.len())..];
    }
    out
}

/// Percent-encodes a form value.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
