//! Simulated Lambda: functions the engine invokes in process, each invocation inside a simulated
//! execution environment with its own `/tmp`, and Lambda's own limits and error shapes.
//!
//! An environment is reused only the way Lambda may reuse one: by a later invocation that starts
//! after the previous one finished, in virtual time as well as in real time. Concurrent
//! invocations (a Map's iterations) therefore get distinct environments, which is what broke the
//! design note's "chunks in /tmp" design.
//!
//! A function may have published versions and aliases ([`Functions::publish`],
//! [`Functions::point_alias`]), changed while an execution runs, as a deploy changes them: a
//! `FunctionName` qualified with a version always runs that version's code; one qualified with an
//! alias runs whatever the alias points at when it is invoked.
//!
//! A function runs in at most [`DEFAULT_CONCURRENCY_LIMIT`] environments (AWS's default quota of
//! concurrent executions): an invocation that would need one more fails with
//! `Lambda.TooManyRequestsException`, as a throttled invocation does. This also bounds what the
//! environments hold (a warehouse connection, a temporary directory each) under a wide Map.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use asl::limits::LAMBDA_RESPONSE_BYTES;
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// The error type Lambda reports when a response is over [`LAMBDA_RESPONSE_BYTES`].
pub const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";

/// Lambda's default quota of concurrent executions (per account and Region; applied here to each
/// function, the pipeline having one).
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 1_000;

/// The error Step Functions reports for a throttled invocation.
pub const TOO_MANY_REQUESTS: &str = "Lambda.TooManyRequestsException";

/// One simulated execution environment: an id (for reports and tests) and its private `/tmp`.
#[derive(Debug)]
pub struct ExecutionEnvironment {
    id: usize,
    tmp: tempfile::TempDir,
    invocations: u64,
    /// Virtual time until which the last invocation ran.
    busy_until: Duration,
    /// What the function keeps between invocations in this environment (its init phase: a
    /// warehouse connection, say), as a Lambda keeps globals in a warm environment.
    state: Option<Box<dyn Any + Send + Sync>>,
}

impl ExecutionEnvironment {
    /// A new environment whose `/tmp` is a fresh directory in `tmp_root` (the system's temporary
    /// directory when `None`), owner-only (0700): a handler may put patient data there.
    fn new(id: usize, tmp_root: Option<&Path>) -> std::io::Result<Self> {
        let prefix = format!("cm-etl-lambda-env-{id}-tmp-");
        let mut tmp = tempfile::Builder::new();
        tmp.prefix(&prefix)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        Ok(Self {
            id,
            tmp: match tmp_root {
                Some(root) => tmp.tempdir_in(root)?,
                None => tmp.tempdir()?,
            },
            invocations: 0,
            busy_until: Duration::ZERO,
            state: None,
        })
    }

    pub fn id(&self) -> usize {
        self.id
    }

    /// This environment's `/tmp`: private to it, kept between the invocations it serves.
    pub fn tmp_dir(&self) -> &Path {
        self.tmp.path()
    }

    /// What an earlier invocation in this environment kept with [`Self::keep`], if of type `T`.
    pub fn kept<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.state.as_ref()?.downcast_ref()
    }

    /// Keeps `value` for later invocations in this environment (and only this one).
    pub fn keep<T: Send + Sync + 'static>(&mut self, value: T) -> &T {
        self.state = Some(Box::new(value));
        self.kept().expect("just stored")
    }

    /// How many invocations this environment served before the current one.
    pub fn previous_invocations(&self) -> u64 {
        self.invocations
    }
}

/// A function error as Lambda reports it: `errorType` and `errorMessage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaError {
    pub error_type: String,
    pub message: String,
    /// The exact error payload, when known (a recorded one, with the runtime's `requestId` and
    /// `stackTrace`).
    payload: Option<String>,
}

impl LambdaError {
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
            payload: None,
        }
    }

    /// The same error, whose `Cause` is `cause` verbatim.
    pub fn with_cause(self, cause: impl Into<String>) -> Self {
        Self {
            payload: Some(cause.into()),
            ..self
        }
    }

    /// The `Cause` Step Functions records: the function's error payload as a JSON string, as the
    /// Lambda runtime builds it for the invocation `request_id`:
    /// `{"errorMessage":…,"errorType":…,"requestId":…,"stackTrace":[…]}` (AWS's order, which
    /// is also the keys' sorted order). An in-process function has no Python stack to show.
    pub fn cause(&self, request_id: &str) -> String {
        match &self.payload {
            Some(payload) => payload.clone(),
            None => json!({
                "errorMessage": self.message,
                "errorType": self.error_type,
                "requestId": request_id,
                "stackTrace": [],
            })
            .to_string(),
        }
    }
}

/// A function the runner can invoke in process.
pub trait LambdaFunction: Send + Sync {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        env: &'a mut ExecutionEnvironment,
    ) -> BoxFuture<'a, Result<Value, LambdaError>>;
}

/// A synchronous function (a closure), for fakes and mimics in tests.
pub struct SyncFunction<F>(pub F);

impl<F> LambdaFunction for SyncFunction<F>
where
    F: Fn(Value, &mut ExecutionEnvironment) -> Result<Value, LambdaError> + Send + Sync,
{
    fn invoke<'a>(
        &'a self,
        payload: Value,
        env: &'a mut ExecutionEnvironment,
    ) -> BoxFuture<'a, Result<Value, LambdaError>> {
        Box::pin(async move { (self.0)(payload, env) })
    }
}

/// One function version (its code) and its pool of idle environments.
struct Deployed {
    function: Arc<dyn LambdaFunction>,
    idle: Mutex<Vec<ExecutionEnvironment>>,
    /// Environments created for this function (idle or busy).
    environments: AtomicUsize,
}

/// Why an invocation did not run the function.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// Every environment the quota allows is busy at that virtual instant.
    #[error(
        "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException): the function already runs in {limit} execution environments, its concurrency quota"
    )]
    Throttled { limit: usize },
    #[error("cannot create an execution environment: {0}")]
    Environment(#[from] std::io::Error),
}

/// What one invocation did, for the engine's clock and report.
pub struct Invocation {
    pub result: Result<Value, LambdaError>,
    pub response_bytes: usize,
    pub environment: usize,
    pub real_duration: Duration,
}

impl Deployed {
    fn new(function: impl LambdaFunction + 'static) -> Arc<Self> {
        Arc::new(Self {
            function: Arc::new(function),
            idle: Mutex::new(Vec::new()),
            environments: AtomicUsize::new(0),
        })
    }
}

/// One function: `$LATEST`, its published versions and its aliases.
struct FunctionEntry {
    latest: Arc<Deployed>,
    versions: BTreeMap<u64, Arc<Deployed>>,
    aliases: HashMap<String, u64>,
}

impl FunctionEntry {
    /// The version `qualifier` names. A function with no published version answers any
    /// qualifier with `$LATEST` (a test's function named `NAME:live`, say); once versions are
    /// published, an unknown version or alias is not found, as in Lambda.
    fn resolve(&self, qualifier: Option<&str>) -> Option<Arc<Deployed>> {
        match qualifier {
            None | Some("$LATEST") => Some(self.latest.clone()),
            Some(_) if self.versions.is_empty() => Some(self.latest.clone()),
            Some(qualifier) => {
                let version = match qualifier.parse::<u64>() {
                    Ok(version) => version,
                    Err(_) => *self.aliases.get(qualifier)?,
                };
                self.versions.get(&version).cloned()
            }
        }
    }
}

/// A function version the engine resolved from a `FunctionName`, to invoke.
#[derive(Clone)]
pub struct ResolvedFunction(Arc<Deployed>);

/// The functions of the simulated account, by function name.
#[derive(Clone)]
pub struct Functions {
    by_name: Arc<RwLock<HashMap<String, FunctionEntry>>>,
    next_environment: Arc<AtomicUsize>,
    concurrency_limit: usize,
    tmp_root: Option<Arc<Path>>,
}

impl Functions {
    pub fn builder() -> FunctionsBuilder {
        FunctionsBuilder::default()
    }

    /// The function version a `FunctionName` or Resource ARN names: a bare name,
    /// `name:qualifier`, a partial ARN `account:function:name` or a full ARN, qualified or not.
    pub fn resolve(&self, function: &str) -> Option<ResolvedFunction> {
        let (name, qualifier) = function_name_and_qualifier(function);
        let functions = self.by_name.read().expect("function registry poisoned");
        functions
            .get(name)?
            .resolve(qualifier)
            .map(ResolvedFunction)
    }

    /// Publishes `code` as the next version of the function `name` (registered with
    /// [`FunctionsBuilder::function`]); returns its number. The code of a published version never
    /// changes afterwards.
    pub fn publish(&self, name: &str, code: impl LambdaFunction + 'static) -> u64 {
        let mut functions = self.by_name.write().expect("function registry poisoned");
        let entry = functions
            .get_mut(function_name_and_qualifier(name).0)
            .expect("publish a version of a registered function");
        let version = entry.versions.keys().next_back().map_or(1, |last| last + 1);
        entry.versions.insert(version, Deployed::new(code));
        version
    }

    /// Points (or creates) the alias `alias` of the function `name` at `version`.
    pub fn point_alias(&self, name: &str, alias: &str, version: u64) {
        let mut functions = self.by_name.write().expect("function registry poisoned");
        let entry = functions
            .get_mut(function_name_and_qualifier(name).0)
            .expect("an alias of a registered function");
        assert!(
            entry.versions.contains_key(&version),
            "an alias points at a published version"
        );
        entry.aliases.insert(alias.to_owned(), version);
    }

    /// How many environments have been created so far (cold starts).
    pub fn environments_created(&self) -> usize {
        self.next_environment.load(Ordering::Relaxed)
    }

    /// Invokes `function` (already resolved) at virtual time `at`; the invocation is taken to last
    /// `duration(real)` of virtual time, which decides when its environment is free again. With
    /// no environment free at `at` and the function at its concurrency quota, it is throttled.
    pub async fn invoke(
        &self,
        function: &ResolvedFunction,
        payload: Value,
        at: Duration,
        virtual_duration: impl Fn(Duration) -> Duration,
    ) -> Result<Invocation, InvokeError> {
        let deployed = &function.0;
        let reusable = {
            let mut idle = deployed.idle.lock().expect("environment pool poisoned");
            // Lambda tends to route to the most recently used warm environment.
            let pick = idle.iter().rposition(|env| env.busy_until <= at);
            pick.map(|i| idle.remove(i))
        };
        let mut env = match reusable {
            Some(env) => env,
            None => self.new_environment(deployed)?,
        };
        let started = std::time::Instant::now();
        let result = deployed.function.invoke(payload, &mut env).await;
        let real_duration = started.elapsed();
        env.invocations += 1;
        env.busy_until = at + virtual_duration(real_duration);
        let environment = env.id;
        let (result, response_bytes) = match result {
            Ok(value) => {
                let bytes = json_len(&value);
                if bytes > LAMBDA_RESPONSE_BYTES {
                    let error = LambdaError::new(
                        RESPONSE_TOO_LARGE,
                        format!(
                            "Response payload size ({bytes} bytes) exceeded maximum allowed payload size ({LAMBDA_RESPONSE_BYTES} bytes)."
                        ),
                    );
                    (Err(error), bytes)
                } else {
                    (Ok(value), bytes)
                }
            }
            Err(error) => (Err(error), 0),
        };
        deployed
            .idle
            .lock()
            .expect("environment pool poisoned")
            .push(env);
        Ok(Invocation {
            result,
            response_bytes,
            environment,
            real_duration,
        })
    }

    /// A cold start, if the function is under its concurrency quota.
    fn new_environment(&self, deployed: &Deployed) -> Result<ExecutionEnvironment, InvokeError> {
        let limit = self.concurrency_limit;
        deployed
            .environments
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .map_err(|_| InvokeError::Throttled { limit })?;
        let id = self.next_environment.fetch_add(1, Ordering::Relaxed);
        ExecutionEnvironment::new(id, self.tmp_root.as_deref()).map_err(|error| {
            deployed.environments.fetch_sub(1, Ordering::SeqCst);
            InvokeError::Environment(error)
        })
    }
}

/// Collects functions by name before the run.
pub struct FunctionsBuilder {
    by_name: HashMap<String, FunctionEntry>,
    concurrency_limit: usize,
    tmp_root: Option<Arc<Path>>,
}

impl Default for FunctionsBuilder {
    fn default() -> Self {
        Self {
            by_name: HashMap::new(),
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            tmp_root: None,
        }
    }
}

impl FunctionsBuilder {
    /// Registers `function` under `name` (the function name, without ARN or qualifier).
    pub fn function(mut self, name: &str, function: impl LambdaFunction + 'static) -> Self {
        self.by_name.insert(
            function_name_and_qualifier(name).0.to_owned(),
            FunctionEntry {
                latest: Deployed::new(function),
                versions: BTreeMap::new(),
                aliases: HashMap::new(),
            },
        );
        self
    }

    /// At most `limit` environments per function at once (default
    /// [`DEFAULT_CONCURRENCY_LIMIT`]; a reserved concurrency, say).
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency_limit = limit;
        self
    }

    /// Creates each environment's `/tmp` in `root` (default: the system's temporary directory),
    /// so that removing `root` removes them all.
    pub fn tmp_root(mut self, root: &Path) -> Self {
        self.tmp_root = Some(root.into());
        self
    }

    pub fn build(self) -> Functions {
        Functions {
            by_name: Arc::new(RwLock::new(self.by_name)),
            next_environment: Arc::new(AtomicUsize::new(0)),
            concurrency_limit: self.concurrency_limit,
            tmp_root: self.tmp_root,
        }
    }
}

/// The function name and qualifier inside any of the forms Lambda accepts.
fn function_name_and_qualifier(function: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = function.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, rest @ ..]
        | [_, "function", name, rest @ ..]
        | [name, rest @ ..] => (name, rest.first().copied()),
        [] => (function, None),
    }
}

/// The size AWS measures: the UTF-8 length of the compact JSON text.
pub fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("a Value always serializes");
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_function_name_resolves() {
        for form in [
            "cm-etl-phase2",
            "cm-etl-phase2:live",
            "123456789012:function:cm-etl-phase2",
            "arn:aws:lambda:us-east-1:123456789012:function:cm-etl-phase2",
            "arn:aws:lambda:us-east-1:123456789012:function:cm-etl-phase2:live",
        ] {
            let (name, qualifier) = function_name_and_qualifier(form);
            assert_eq!(name, "cm-etl-phase2", "{form}");
            assert_eq!(
                qualifier,
                form.ends_with(":live").then_some("live"),
                "{form}"
            );
        }
    }

    /// A function whose every invocation returns `answer` (which tells its code apart).
    fn answering(answer: &'static str) -> impl LambdaFunction {
        SyncFunction(move |_, _: &mut ExecutionEnvironment| Ok(Value::from(answer)))
    }

    async fn answer(functions: &Functions, function: &str) -> Option<Value> {
        let resolved = functions.resolve(function)?;
        let invocation = functions
            .invoke(&resolved, Value::Null, Duration::ZERO, |d| d)
            .await
            .unwrap();
        Some(invocation.result.unwrap())
    }

    #[tokio::test]
    async fn a_version_keeps_its_code_and_an_alias_follows_where_it_points() {
        let functions = Functions::builder()
            .function("f", answering("latest"))
            .build();
        // No version published yet: any qualifier runs $LATEST.
        assert_eq!(answer(&functions, "f:live").await.unwrap(), "latest");
        let one = functions.publish("f", answering("one"));
        functions.point_alias("f", "live", one);
        let two = functions.publish("f", answering("two"));
        assert_eq!((one, two), (1, 2));
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
        assert_eq!(
            answer(&functions, &format!("{arn}:1")).await.unwrap(),
            "one"
        );
        assert_eq!(
            answer(&functions, &format!("{arn}:live")).await.unwrap(),
            "one"
        );
        functions.point_alias("f", "live", two);
        assert_eq!(
            answer(&functions, &format!("{arn}:live")).await.unwrap(),
            "two"
        );
        assert_eq!(
            answer(&functions, &format!("{arn}:1")).await.unwrap(),
            "one"
        );
        assert_eq!(answer(&functions, arn).await.unwrap(), "latest");
        assert_eq!(answer(&functions, "f:$LATEST").await.unwrap(), "latest");
        // Once versions exist, an unknown one or an unknown alias is not found.
        assert!(functions.resolve("f:3").is_none());
        assert!(functions.resolve("f:canary").is_none());
    }

    #[tokio::test]
    async fn environments_are_reused_only_after_the_previous_invocation_ended() {
        let functions = Functions::builder()
            .function(
                "f",
                SyncFunction(|_, env: &mut ExecutionEnvironment| Ok(Value::from(env.id()))),
            )
            .build();
        let second = Duration::from_secs(1);
        let fixed = |_| second;
        let first = functions
            .invoke(
                &functions.resolve("f").unwrap(),
                Value::Null,
                Duration::ZERO,
                fixed,
            )
            .await
            .unwrap();
        // Starts while the first is still running in virtual time: a new environment.
        let overlapping = functions
            .invoke(
                &functions.resolve("f").unwrap(),
                Value::Null,
                second / 2,
                fixed,
            )
            .await
            .unwrap();
        assert_ne!(first.environment, overlapping.environment);
        // Starts after both ended: a warm one is reused, and no new one is created.
        let later = functions
            .invoke(
                &functions.resolve("f").unwrap(),
                Value::Null,
                second * 3,
                fixed,
            )
            .await
            .unwrap();
        assert!([first.environment, overlapping.environment].contains(&later.environment));
        assert_eq!(functions.environments_created(), 2);
    }

    #[tokio::test]
    async fn an_invocation_past_the_concurrency_quota_is_throttled_until_an_environment_frees() {
        let functions = Functions::builder()
            .function(
                "f",
                SyncFunction(|_, env: &mut ExecutionEnvironment| Ok(Value::from(env.id()))),
            )
            .concurrency_limit(2)
            .build();
        let second = Duration::from_secs(1);
        let fixed = |_| second;
        for _ in 0..2 {
            functions
                .invoke(
                    &functions.resolve("f").unwrap(),
                    Value::Null,
                    Duration::ZERO,
                    fixed,
                )
                .await
                .unwrap();
        }
        // Both environments are busy until 1 s: a third at 0.5 s would need a third one.
        let throttled = functions
            .invoke(
                &functions.resolve("f").unwrap(),
                Value::Null,
                second / 2,
                fixed,
            )
            .await
            .err()
            .expect("throttled");
        assert!(matches!(throttled, InvokeError::Throttled { limit: 2 }));
        assert!(throttled.to_string().contains("TooManyRequestsException"));
        // At 1 s both are free again: no throttle, no new environment.
        functions
            .invoke(&functions.resolve("f").unwrap(), Value::Null, second, fixed)
            .await
            .unwrap();
        assert_eq!(functions.environments_created(), 2);
    }

    #[tokio::test]
    async fn a_response_over_six_megabytes_fails_as_lambda_does() {
        let functions = Functions::builder()
            .function(
                "big",
                SyncFunction(|_, _: &mut ExecutionEnvironment| {
                    Ok(Value::String("x".repeat(LAMBDA_RESPONSE_BYTES - 1)))
                }),
            )
            .build();
        let out = functions
            .invoke(
                &functions.resolve("big").unwrap(),
                Value::Null,
                Duration::ZERO,
                |d| d,
            )
            .await
            .unwrap();
        let err = out.result.unwrap_err();
        assert_eq!(err.error_type, RESPONSE_TOO_LARGE);
        assert_eq!(out.response_bytes, LAMBDA_RESPONSE_BYTES + 1);
    }
}
