//! The HTTP side of the UI, without sockets: a request as the handlers see it
//! (query, form fields, cookies, an uploaded file), a reply with the security
//! headers every answer carries, and the small parsers behind them
//! (`application/x-www-form-urlencoded`, `multipart/form-data`, `Cookie`).

/// A request, read whole (bodies are small: forms, or one spreadsheet).
#[derive(Debug, Default)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Query parameters in order.
    pub query: Vec<(String, String)>,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// Builds a request from its method, URL (path and query) and headers.
    pub fn new(method: &str, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Request {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Request {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: parse_urlencoded(query.as_bytes()),
            headers: headers
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect(),
            body,
        }
    }

    /// The first header with this name (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// A cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }

    /// The form fields of a POST: urlencoded, or the text parts of a multipart body.
    pub fn form(&self) -> Form {
        match self.multipart_boundary() {
            Some(boundary) => {
                let parts = parse_multipart(&self.body, &boundary);
                let mut form = Form::default();
                for part in parts {
                    match part.filename {
                        Some(filename) => form.files.push(Upload {
                            field: part.name,
                            filename,
                            data: part.data,
                        }),
                        None => form
                            .fields
                            .push((part.name, String::from_utf8_lossy(&part.data).into_owned())),
                    }
                }
                form
            }
            None => Form {
                fields: parse_urlencoded(&self.body),
                files: Vec::new(),
            },
        }
    }

    fn multipart_boundary(&self) -> Option<String> {
        let content_type = self.header("content-type")?;
        let (kind, params) = content_type.split_once(';')?;
        if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
            return None;
        }
        params.split(';').find_map(|param| {
            let (name, value) = param.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| value.trim().trim_matches('"').to_owned())
        })
    }
}

/// The fields of a submitted form.
#[derive(Debug, Default)]
pub struct Form {
    /// Text fields in order (a name may repeat: checkboxes).
    pub fields: Vec<(String, String)>,
    /// Uploaded files.
    pub files: Vec<Upload>,
}

impl Form {
    /// The first value of a field, or "".
    pub fn get(&self, name: &str) -> &str {
        first(&self.fields, name).unwrap_or("")
    }

    /// Every value of a field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// An uploaded file.
#[derive(Debug)]
pub struct Upload {
    /// The form field it came in.
    pub field: String,
    /// The name it had on the officer's disk.
    pub filename: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Parses `a=1&b=x+y` (query strings and urlencoded bodies).
pub fn parse_urlencoded(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One part of a multipart body.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename`, for a file.
    pub filename: Option<String>,
    /// Its content.
    pub data: Vec<u8>,
}

/// Parses a `multipart/form-data` body (RFC 7578) with the given boundary.
/// Parts without a name are skipped; a body that ends early yields the parts
/// complete so far.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    let Some(mut position) = find(body, delimiter, 0) else {
        return parts;
    };
    loop {
        let after = position + delimiter.len();
        // `--boundary--` closes the body.
        if body[after..].starts_with(b"--") {
            break;
        }
        let Some(headers_start) = skip_line_end(body, after) else {
            break;
        };
        let Some(headers_end) = find(body, b"\r\n\r\n", headers_start) else {
            break;
        };
        let content_start = headers_end + 4;
        let mut next_delimiter = Vec::with_capacity(delimiter.len() + 2);
        next_delimiter.extend_from_slice(b"\r\n");
        next_delimiter.extend_from_slice(delimiter);
        let Some(content_end) = find(body, &next_delimiter, content_start) else {
            break;
        };
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]);
        if let Some((name, filename)) = disposition(&headers) {
            parts.push(Part {
                name,
                filename,
                data: body[content_start..content_end].to_vec(),
            });
        }
        position = content_end + 2;
    }
    parts
}

fn skip_line_end(body: &[u8], at: usize) -> Option<usize> {
    if body[at..].starts_with(b"\r\n") {
        Some(at + 2)
    } else if body[at..].starts_with(b"\n") {
        Some(at + 1)
    } else {
        None
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() || needle.is_empty() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `name` and `filename` of a part's `Content-Disposition: form-data` header.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let line = headers.lines().find(|l| {
        l.to_ascii_lowercase()
            .trim_start()
            .starts_with("content-disposition:")
    })?;
    let (_, value) = line.split_once(':')?;
    let mut name = None;
    let mut filename = None;
    for param in split_params(value) {
        let Some((key, raw)) = param.split_once('=') else {
            continue;
        };
        let unquoted = raw.trim().trim_matches('"').replace("\\\"", "\"");
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(unquoted),
            "filename" => filename = Some(unquoted),
            _ => {}
        }
    }
    name.map(|n| (n, filename))
}

/// Splits `form-data; name="a"; filename="x;y.csv"` at the semicolons outside quotes.
fn split_params(value: &str) -> Vec<String> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        match c {
            '\\' if quoted && !escaped => {
                escaped = true;
                current.push(c);
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            ';' if !quoted => {
                params.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        escaped = false;
        current.push(c);
    }
    params.push(current);
    params
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers besides the security headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// An HTML page (never cached: pages hold personal data).
    pub fn html(status: u16, markup: maud::Markup) -> Reply {
        Reply {
            status,
            headers: vec![
                ("Content-Type".into(), "text/html; charset=utf-8".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: markup.into_string().into_bytes(),
        }
    }

    /// A JSON answer (never cached).
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: value.to_string().into_bytes(),
        }
    }

    /// A redirect after a POST (or to the page that fits), as `303 See Other`.
    pub fn redirect(location: &str) -> Reply {
        Reply {
            status: 303,
            headers: vec![
                ("Location".into(), location.to_owned()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: Vec::new(),
        }
    }

    /// A plain-text answer.
    pub fn text(status: u16, text: &str) -> Reply {
        Reply {
            status,
            headers: vec![
                ("Content-Type".into(), "text/plain; charset=utf-8".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: text.as_bytes().to_vec(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: String) -> Reply {
        self.headers.push((name.to_owned(), value));
        self
    }

    /// The headers every answer carries: no script, style, frame or form
    /// target from anywhere but this UI, no framing, no MIME sniffing, no
    /// referrer leaving the laptop.
    pub fn security_headers() -> [(&'static str, &'static str); 4] {
        [
            (
                "Content-Security-Policy",
                "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ]
    }
}

/// Whether a `Host` header names this laptop (127.0.0.1, localhost or [::1],
/// any port). Anything else is a page of another site whose name an attacker
/// pointed at 127.0.0.1 (DNS rebinding) and is refused.
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, _)) => return inside == "::1",
            None => return false,
        }
    } else {
        host.split(':').next().unwrap_or_default()
    };
    matches!(name, "127.0.0.1" | "localhost")
}

/// Percent-encodes a value for a URL query.
pub fn encode_query(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_forms_decode_plus_and_percent() {
        let request = Request::new(
            "post",
            "/register?lang=en&q=lubuk%20gadang",
            vec![("Cookie".into(), "a=1; lindung_session=abc".into())],
            b"full_name=Siti+Aminah&confirm=x&confirm=y&nik=1311%2001".to_vec(),
        );
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/register");
        assert_eq!(request.query("q"), Some("lubuk gadang"));
        assert_eq!(request.cookie("lindung_session").as_deref(), Some("abc"));
        let form = request.form();
        assert_eq!(form.get("full_name"), "Siti Aminah");
        assert_eq!(form.get("nik"), "1311 01");
        assert_eq!(form.all("confirm"), vec!["x", "y"]);
        assert_eq!(form.get("missing"), "");
    }

    #[test]
    fn multipart_bodies_give_fields_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntoken\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"desa;1.csv\"\r\nContent-Type: text/csv\r\n\r\nNIK;Nama\r\n1;2\r\n\r\n\
--XyZ--\r\n";
        let request = Request::new(
            "POST",
            "/import",
            vec![(
                "Content-Type".into(),
                "multipart/form-data; boundary=XyZ".into(),
            )],
            body.to_vec(),
        );
        let form = request.form();
        assert_eq!(form.get("csrf"), "token");
        assert_eq!(form.files.len(), 1);
        assert_eq!(form.files[0].filename, "desa;1.csv");
        assert_eq!(form.files[0].field, "file");
        // The CRLF before the next delimiter belongs to the delimiter, not the file.
        assert_eq!(form.files[0].data, b"NIK;Nama\r\n1;2\r\n");
    }

    #[test]
    fn a_truncated_multipart_body_keeps_only_complete_parts() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.csv\"\r\n\r\nhalf";
        let parts = parse_multipart(body, "b");
        assert_eq!(
            parts,
            vec![Part {
                name: "a".into(),
                filename: None,
                data: b"1".to_vec()
            }]
        );
        assert!(parse_multipart(b"no delimiter here", "b").is_empty());
    }

    #[test]
    fn only_loopback_host_names_are_local() {
        for host in [
            "127.0.0.1:7878",
            "127.0.0.1",
            "localhost:1",
            "LOCALHOST",
            "[::1]:80",
        ] {
            assert!(is_local_host(host), "{host}");
        }
        for host in [
            "evil.example:7878",
            "127.0.0.1.evil.example",
            "10.0.0.5",
            "[::2]:80",
            "",
        ] {
            assert!(!is_local_host(host), "{host}");
        }
    }
}
