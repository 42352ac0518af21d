//! An HTTP proxy in front of moto for what moto cannot do. Every request is recorded (so a test
//! can check what was sent) and, by the test's `route`, forwarded to moto unchanged, forwarded
//! with moto's answer rewritten, or answered by the proxy itself in AWS's documented shape:
//! - a Lambda update AWS accepts and then reports `LastUpdateStatus: Failed` (out of ENIs, a KMS
//!   key disabled, ...), which moto never does ([`FaultProxy::failing_updates_of`]);
//! - an AWS error part way through a command (AccessDenied on one call);
//! - RedriveExecution, which moto 5.2.5 does not implement, and what DescribeExecution says after it;
//! - bucket policies, which moto evaluates wrongly ([`FaultProxy::holding_bucket_policies`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Why the update failed, as AWS words it for an ENI shortage.
pub const FAILED_REASON: &str = "Lambda was unable to create an ENI in the VPC of the function because the limit for Network Interfaces has been reached.";
pub const FAILED_REASON_CODE: &str = "EniLimitExceeded";

/// One request the proxy received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    head: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }

    /// The operation of an AWS JSON-protocol call: `X-Amz-Target: AWSStepFunctions.RedriveExecution`
    /// is `RedriveExecution`.
    pub fn json_operation(&self) -> Option<&str> {
        self.header("x-amz-target")?.rsplit('.').next()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the proxy does with one request.
pub enum Route {
    /// Send it to moto and give back moto's answer.
    Forward,
    /// Send it to moto and give back this function of moto's raw answer.
    Rewrite(Box<dyn FnOnce(Vec<u8>) -> Vec<u8> + Send>),
    /// Give back this raw answer; moto never sees the request.
    Answer(Vec<u8>),
    /// Send it to moto with this body instead, and give back moto's answer.
    ForwardWith(Vec<u8>),
}

type Router = dyn Fn(&Request) -> Route + Send + Sync;

pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to give the command as its endpoint.
    pub endpoint: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 in front of the moto server at `upstream`.
    pub fn start(
        upstream: &str,
        route: impl Fn(&Request) -> Route + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream
            .strip_prefix("http://")
            .expect("moto is plain http")
            .trim_end_matches('/')
            .to_owned();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let route: Arc<Router> = Arc::new(route);
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, route, recorded) =
                    (upstream.clone(), route.clone(), recorded.clone());
                std::thread::spawn(move || serve(client, &upstream, &*route, &recorded));
            }
        });
        Self { endpoint, requests }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// A proxy under which the first update of `function` (its code or configuration) that moto
    /// accepts is then reported Failed in GetFunction / GetFunctionConfiguration of `$LATEST`.
    pub fn failing_updates_of(function: &str, upstream: &str) -> Self {
        let function_path = format!("/2015-03-31/functions/{function}");
        let updated = Arc::new(AtomicBool::new(false));
        Self::start(upstream, move |request| {
            let path = request.path();
            let is_update = request.method == "PUT"
                && (path == format!("{function_path}/code")
                    || path == format!("{function_path}/configuration"));
            let reads_latest = request.method == "GET"
                && (path == function_path || path == format!("{function_path}/configuration"))
                && !request.query().contains("Qualifier=");
            if is_update {
                let updated = updated.clone();
                Route::Rewrite(Box::new(move |response| {
                    if response.starts_with(b"HTTP/1.1 200") {
                        updated.store(true, Ordering::SeqCst);
                    }
                    response
                }))
            } else if reads_latest && updated.load(Ordering::SeqCst) {
                Route::Rewrite(Box::new(|response| {
                    rewrite_json(&response, |json| {
                        // GetFunction nests the configuration; GetFunctionConfiguration is it.
                        let configuration = match json.get_mut("Configuration") {
                            Some(nested) => nested,
                            None => json,
                        };
                        configuration["LastUpdateStatus"] = "Failed".into();
                        configuration["LastUpdateStatusReason"] = FAILED_REASON.into();
                        configuration["LastUpdateStatusReasonCode"] = FAILED_REASON_CODE.into();
                    })
                }))
            } else {
                Route::Forward
            }
        })
    }
}

impl FaultProxy {
    /// A proxy that keeps the buckets' policies itself, answering PutBucketPolicy (204) and
    /// GetBucketPolicy (200 with the policy, or 404 NoSuchBucketPolicy) as S3 documents them.
    /// moto 5.2.5 takes a bucket policy statement's Condition for unmet whatever the request, so a
    /// TLS-only statement (Deny when `aws:SecureTransport` is false) in moto refuses every object
    /// request with 403; kept here, the objects stay usable and what was put can be read back.
    pub fn holding_bucket_policies(upstream: &str) -> Self {
        let policies: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>> = Arc::default();
        Self::start(upstream, move |request| {
            let is_policy = request
                .query()
                .split('&')
                .any(|part| part == "policy" || part.starts_with("policy="));
            let bucket = request.path().trim_matches('/').to_owned();
            if !is_policy || bucket.contains('/') {
                return Route::Forward;
            }
            let mut policies = policies.lock().unwrap();
            match request.method.as_str() {
                "PUT" => {
                    policies.insert(bucket, request.body.clone());
                    Route::Answer(http_response(204, "application/xml", b""))
                }
                "GET" => match policies.get(&bucket) {
                    Some(policy) => Route::Answer(http_response(200, "application/json", policy)),
                    None => Route::Answer(http_response(
                        404,
                        "application/xml",
                        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucketPolicy</Code><Message>The bucket policy does not exist</Message><BucketName>{bucket}</BucketName><RequestId>fault-proxy</RequestId></Error>").as_bytes(),
                    )),
                },
                _ => Route::Forward,
            }
        })
    }
}

impl FaultProxy {
    /// A proxy adding what moto 5.2 lacks for state machine versions and aliases, answered from
    /// moto's own state in AWS's documented shapes:
    /// - ListStateMachineVersions: DescribeStateMachine of `ARN:1`, `ARN:2`, ... up to the first
    ///   that does not exist, newest first, less the deleted ones;
    /// - DeleteStateMachineVersion: remembered, so a later list or DescribeStateMachine no longer
    ///   sees the version;
    /// - StartExecution on an alias: moto starts only unqualified ARNs, so the execution starts
    ///   there, but only when the alias sends every execution to a version whose definition is
    ///   the current one (anything else is answered with an error, never run on the wrong code).
    pub fn with_state_machine_versions(upstream: &str) -> Self {
        Self::with_state_machine_versions_and_running(upstream, Arc::default())
    }

    /// The same, and ListExecutions of RUNNING executions answers, while `running_on` names a
    /// version, one execution `migration-2024` running on it, as AWS lists one.
    pub fn with_state_machine_versions_and_running(
        upstream: &str,
        running_on: Arc<Mutex<Option<u64>>>,
    ) -> Self {
        let deleted: Arc<Mutex<Vec<String>>> = Arc::default();
        let moto = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Self::start(upstream, move |request| {
            let body = request.json();
            let error = |code: &str, message: String| {
                let body = serde_json::json!({"__type": code, "message": message});
                Route::Answer(http_response(
                    400,
                    "application/x-amz-json-1.0",
                    body.to_string().as_bytes(),
                ))
            };
            let answer = |body: serde_json::Value| {
                Route::Answer(http_response(
                    200,
                    "application/x-amz-json-1.0",
                    body.to_string().as_bytes(),
                ))
            };
            match request.json_operation() {
                Some("ListStateMachineVersions") => {
                    let machine = body["stateMachineArn"].as_str().unwrap_or_default();
                    let mut versions = Vec::new();
                    for number in 1.. {
                        let arn = format!("{machine}:{number}");
                        let (status, described) = moto_call(
                            &moto,
                            "DescribeStateMachine",
                            serde_json::json!({"stateMachineArn": arn}),
                        );
                        if status != 200 {
                            break;
                        }
                        if !deleted.lock().unwrap().contains(&arn) {
                            versions.push(serde_json::json!({"stateMachineVersionArn": arn, "creationDate": described["creationDate"]}));
                        }
                    }
                    versions.reverse();
                    answer(serde_json::json!({"stateMachineVersions": versions}))
                }
                Some("DeleteStateMachineVersion") => {
                    let arn = body["stateMachineVersionArn"].as_str().unwrap_or_default();
                    deleted.lock().unwrap().push(arn.to_owned());
                    answer(serde_json::json!({}))
                }
                Some("DescribeStateMachine")
                    if deleted
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|arn| body["stateMachineArn"] == *arn.as_str()) =>
                {
                    error(
                        "StateMachineDoesNotExist",
                        format!(
                            "State Machine Does Not Exist: '{}'",
                            body["stateMachineArn"]
                        ),
                    )
                }
                Some("ListExecutions") if body["statusFilter"] == "RUNNING" => {
                    let machine = body["stateMachineArn"].as_str().unwrap_or_default();
                    let executions: Vec<serde_json::Value> = running_on.lock().unwrap().iter().map(|version| {
                        serde_json::json!({
                            "executionArn": machine.replace(":stateMachine:", ":execution:") + ":migration-2024",
                            "stateMachineArn": machine,
                            "name": "migration-2024",
                            "status": "RUNNING",
                            "startDate": 1796400000.0,
                            "stateMachineVersionArn": format!("{machine}:{version}"),
                            "stateMachineAliasArn": format!("{machine}:live"),
                            "redriveCount": 0,
                        })
                    }).collect();
                    answer(serde_json::json!({"executions": executions}))
                }
                Some("StartExecution") => {
                    let target = body["stateMachineArn"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let Some((machine, qualifier)) = target
                        .rsplit_once(':')
                        .filter(|(m, _)| m.contains(":stateMachine:"))
                    else {
                        return Route::Forward;
                    };
                    let (status, alias) = moto_call(
                        &moto,
                        "DescribeStateMachineAlias",
                        serde_json::json!({"stateMachineAliasArn": target}),
                    );
                    if status != 200 {
                        return error(
                            "StateMachineDoesNotExist",
                            format!("State Machine Does Not Exist: '{target}' ({qualifier})"),
                        );
                    }
                    let routes = alias["routingConfiguration"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let [route] = routes.as_slice() else {
                        return error(
                            "ValidationException",
                            "the test proxy starts only aliases routing to one version".into(),
                        );
                    };
                    let (_, version) = moto_call(
                        &moto,
                        "DescribeStateMachine",
                        serde_json::json!({"stateMachineArn": route["stateMachineVersionArn"]}),
                    );
                    let (_, latest) = moto_call(
                        &moto,
                        "DescribeStateMachine",
                        serde_json::json!({"stateMachineArn": machine}),
                    );
                    if version["definition"] != latest["definition"] {
                        return error("ValidationException", "the test proxy cannot start a version that is not the current definition".into());
                    }
                    let mut body = body.clone();
                    body["stateMachineArn"] = machine.into();
                    Route::ForwardWith(serde_json::to_vec(&body).unwrap())
                }
                _ => Route::Forward,
            }
        })
    }
}

/// One Step Functions call straight to moto: its status and JSON answer.
fn moto_call(upstream: &str, operation: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let body = body.to_string();
    let mut moto = TcpStream::connect(upstream).expect("moto is reachable");
    write!(
        moto,
        "POST / HTTP/1.1\r\nHost: {upstream}\r\nX-Amz-Target: AWSStepFunctions.{operation}\r\nContent-Type: application/x-amz-json-1.0\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    moto.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response")
        + 4;
    let status = String::from_utf8_lossy(&response[9..12])
        .parse()
        .unwrap_or(0);
    (
        status,
        serde_json::from_slice(&response[split..]).unwrap_or(serde_json::Value::Null),
    )
}

/// Proxies one request (the proxy answers `Connection: close`, so one per connection).
fn serve(client: TcpStream, upstream: &str, route: &Router, recorded: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let Some((head, body)) = read_message(&mut reader) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let request = Request {
        method: parts.next().unwrap_or_default().to_owned(),
        target: parts.next().unwrap_or_default().to_owned(),
        head,
        body,
    };
    recorded.lock().unwrap().push(request.clone());
    let forward = |body: &[u8]| {
        let mut moto = TcpStream::connect(upstream).expect("moto is reachable");
        let head = with_header(&request.head, "Connection", "close");
        let head = with_header(&head, "Content-Length", &body.len().to_string());
        moto.write_all(head.as_bytes()).unwrap();
        moto.write_all(body).unwrap();
        let mut response = Vec::new();
        moto.read_to_end(&mut response).unwrap();
        response
    };
    let response = match route(&request) {
        Route::Forward => forward(&request.body),
        Route::Rewrite(rewrite) => rewrite(forward(&request.body)),
        Route::Answer(response) => response,
        Route::ForwardWith(body) => forward(&body),
    };
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

/// A complete answer: status line, content type and length, `Connection: close`, body.
pub fn http_response(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    };
    let mut bytes = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault-proxy\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// moto's 200 JSON answer with `edit` applied to its body (any other answer unchanged).
pub fn rewrite_json(response: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
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
    edit(&mut json);
    let body = serde_json::to_vec(&json).unwrap();
    let mut bytes = with_header(&head, "Content-Length", &body.len().to_string()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}
