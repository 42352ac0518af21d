//! A fault-injecting HTTP proxy in front of moto, for the one failure moto cannot produce: a
//! Lambda update that AWS accepts and then reports as `LastUpdateStatus: Failed` (out of ENIs, a
//! KMS key disabled, ...). Every request reaches moto unchanged; after the first update of the
//! function (its code or configuration), the proxy rewrites `$LATEST`'s status in moto's answers
//! to GetFunction and GetFunctionConfiguration, as AWS would report it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why the update failed, as AWS words it for an ENI shortage.
pub const FAILED_REASON: &str = "Lambda was unable to create an ENI in the VPC of the function because the limit for Network Interfaces has been reached.";
pub const FAILED_REASON_CODE: &str = "EniLimitExceeded";

pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to give deploy as its endpoint.
    pub endpoint: String,
}

impl FaultProxy {
    /// Starts the proxy for `function` in front of the moto server at `upstream`.
    pub fn failing_updates_of(function: &str, upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream
            .strip_prefix("http://")
            .expect("moto is plain http")
            .trim_end_matches('/')
            .to_owned();
        let function_path = format!("/2015-03-31/functions/{function}");
        let updated = Arc::new(AtomicBool::new(false));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, function_path, updated) =
                    (upstream.clone(), function_path.clone(), updated.clone());
                std::thread::spawn(move || {
                    serve(client, &upstream, &function_path, &updated);
                });
            }
        });
        Self { endpoint }
    }
}

/// Proxies one request (the proxy answers `Connection: close`, so one per connection).
fn serve(client: TcpStream, upstream: &str, function_path: &str, updated: &AtomicBool) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let Some((head, body)) = read_message(&mut reader) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split('?').next().unwrap_or_default();

    let mut moto = TcpStream::connect(upstream).expect("moto is reachable");
    moto.write_all(with_header(&head, "Connection", "close").as_bytes())
        .unwrap();
    moto.write_all(&body).unwrap();
    let mut response = Vec::new();
    moto.read_to_end(&mut response).unwrap();

    let is_update = method == "PUT"
        && (path == format!("{function_path}/code")
            || path == format!("{function_path}/configuration"));
    let reads_latest = method == "GET"
        && (path == function_path || path == format!("{function_path}/configuration"))
        && !target.contains("Qualifier=");
    if is_update && response.starts_with(b"HTTP/1.1 200") {
        updated.store(true, Ordering::SeqCst);
    } else if reads_latest && updated.load(Ordering::SeqCst) {
        response = failed_status(&response);
    }
    let mut client = client;
    let _ = client.write_all(&response);
}

/// One HTTP/1.1 message: its head (up to the blank line) and its Content-Length body.
fn read_message(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    assert!(
        !header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")),
        "the SDK sent a chunked request; the proxy reads Content-Length bodies only"
    );
    let length = header(&head, "content-length").map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// `head` with the header `name` set to `value` (replaced if present).
fn with_header(head: &str, name: &str, value: &str) -> String {
    let mut out = String::new();
    for line in head.lines().filter(|l| !l.is_empty()) {
        let is_name = line
            .split_once(':')
            .is_some_and(|(key, _)| key.eq_ignore_ascii_case(name));
        if !is_name {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out + &format!("{name}: {value}\r\n\r\n")
}

/// moto's 200 answer with `$LATEST`'s update marked Failed, as AWS reports it.
fn failed_status(response: &[u8]) -> Vec<u8> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response")
        + 4;
    let head = String::from_utf8_lossy(&response[..split]);
    if !head.starts_with("HTTP/1.1 200") {
        return response.to_vec();
    }
    assert!(
        !header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")),
        "moto answered chunked"
    );
    let mut json: serde_json::Value = serde_json::from_slice(&response[split..]).unwrap();
    // GetFunction nests the configuration; GetFunctionConfiguration is the configuration.
    let configuration = match json.get_mut("Configuration") {
        Some(nested) => nested,
        None => &mut json,
    };
    configuration["LastUpdateStatus"] = "Failed".into();
    configuration["LastUpdateStatusReason"] = FAILED_REASON.into();
    configuration["LastUpdateStatusReasonCode"] = FAILED_REASON_CODE.into();
    let body = serde_json::to_vec(&json).unwrap();
    let mut bytes = with_header(&head, "Content-Length", &body.len().to_string()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}
