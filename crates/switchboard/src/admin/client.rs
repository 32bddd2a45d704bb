//! The connection to a node's provisioning API: finding the node, trusting its certificate,
//! sending authenticated JSON requests and turning API errors into messages.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ConnectArgs;

/// How long one request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an admin verb failed; shown as `error: <Display>`.
#[derive(Debug)]
pub enum CliError {
    /// The API answered with an error.
    Api {
        status: u16,
        message: String,
        field: Option<String>,
    },
    /// The node could not be reached (or its answer could not be read).
    Connect { url: String, cause: String },
    /// Something on this side: missing files, bad input.
    Local(String),
    /// A usage error found after parsing (exit status 2, as clap's).
    Usage(String),
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Api {
                status,
                message,
                field,
            } => {
                f.write_str(message)?;
                if let Some(field) = field {
                    write!(f, " (field: {field})")?;
                }
                if *status == 401 {
                    f.write_str(
                        " (check --token / SWITCHBOARD_TOKEN, or the data directory's admin.token)",
                    )?;
                }
                Ok(())
            }
            CliError::Connect { url, cause } => write!(f, "cannot reach {url}: {cause}"),
            CliError::Local(msg) | CliError::Usage(msg) => f.write_str(msg),
        }
    }
}

/// The error body every API error carries.
#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    error: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    field: Option<String>,
}

/// Turns an error answer into a [`CliError::Api`], whatever its body.
pub(crate) fn api_error(status: StatusCode, url: &str, body: &[u8]) -> CliError {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(e) => CliError::Api {
            status: status.as_u16(),
            message: if e.message.is_empty() {
                e.error
            } else {
                e.message
            },
            field: e.field.filter(|f| !f.is_empty()),
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let mut message = format!("HTTP {status} from {url}");
            if !text.is_empty() {
                let snippet: String = text.chars().take(200).collect();
                message.push_str(": ");
                message.push_str(&snippet);
            }
            CliError::Api {
                status: status.as_u16(),
                message,
                field: None,
            }
        }
    }
}

/// Where and how to connect, once flags and the data directory are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub url: String,
    pub token: String,
    /// PEM file of the certificates to trust; `None` for plain `http://`.
    pub ca: Option<PathBuf>,
}

fn no_node(dir: &Path) -> CliError {
    CliError::Local(format!(
        "no node found in {}: start one with `switchboard serve` or give --server/--token",
        dir.display()
    ))
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn read_one_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// Resolves the flags into an endpoint: `--server` (with `--token`, `--ca` or the local node's
/// certificate), else the local node of `--data-dir` (`node.url`, `admin.token`,
/// `certs/tomcat.pem`). Explicit `--token`/`--ca` win over the data directory's.
pub(crate) fn resolve(connect: &ConnectArgs) -> Result<Endpoint, CliError> {
    let dir = &connect.data_dir;
    let local_cert = dir.join("certs").join("tomcat.pem");
    let token = non_empty(&connect.token);
    let (url, token, ca) = match non_empty(&connect.server) {
        Some(url) => {
            let token = token.ok_or_else(|| {
                CliError::Usage(format!(
                    "--server {url} needs an admin token: give --token or set SWITCHBOARD_TOKEN"
                ))
            })?;
            let ca = match &connect.ca {
                Some(ca) => Some(ca.clone()),
                None if local_cert.is_file() => Some(local_cert),
                None => None,
            };
            (url, token, ca)
        }
        None => {
            let url = read_one_line(&dir.join("node.url")).ok_or_else(|| no_node(dir))?;
            let token = match token {
                Some(t) => t,
                None => read_one_line(&dir.join("admin.token")).ok_or_else(|| no_node(dir))?,
            };
            let ca = match &connect.ca {
                Some(ca) => ca.clone(),
                None if local_cert.is_file() => local_cert,
                None => return Err(no_node(dir)),
            };
            (url, token, Some(ca))
        }
    };
    let url = url.trim_end_matches('/').to_owned();
    let parsed =
        Url::parse(&url).map_err(|e| CliError::Usage(format!("bad server URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "https" if ca.is_none() => Err(CliError::Usage(format!(
            "no certificate to trust for {url}: give --ca <pem-file> (the node's certs/tomcat.pem or its CA)"
        ))),
        "https" => Ok(Endpoint { url, token, ca }),
        "http" => Ok(Endpoint {
            url,
            token,
            ca: None,
        }),
        other => Err(CliError::Usage(format!(
            "bad server URL {url:?}: scheme {other:?}, expected https"
        ))),
    }
}

/// A rustls client configuration (ring provider) trusting exactly the certificates of `ca`.
fn tls_config(ca: &Path) -> Result<rustls::ClientConfig, CliError> {
    let pem = std::fs::read(ca)
        .map_err(|e| CliError::Local(format!("cannot read {}: {e}", ca.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| {
            CliError::Local(format!("bad PEM certificate in {}: {e}", ca.display()))
        })?;
        roots.add(cert).map_err(|e| {
            CliError::Local(format!("unusable certificate in {}: {e}", ca.display()))
        })?;
    }
    if roots.is_empty() {
        return Err(CliError::Local(format!(
            "no certificate in {} (expected PEM \"BEGIN CERTIFICATE\")",
            ca.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::Local(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The causes of a reqwest error, innermost last, without repeats.
fn cause_chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    if err.is_timeout() {
        parts.push(format!("no answer within {} s", TIMEOUT.as_secs()));
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push(err.to_string());
    }
    let mut cause = parts.join(": ");
    if cause.contains("certificate") {
        cause.push_str(" (is --ca the node's certs/tomcat.pem or its CA?)");
    }
    cause
}

/// An authenticated client of one node's API.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
    /// `--json`: print the API's JSON instead of tables.
    pub json: bool,
}

impl Client {
    /// Resolves the endpoint and builds the HTTP client (no request is sent yet).
    pub fn connect(connect: &ConnectArgs) -> Result<Client, CliError> {
        let endpoint = resolve(connect)?;
        Client::new(&endpoint, connect.json)
    }

    pub(crate) fn new(endpoint: &Endpoint, json: bool) -> Result<Client, CliError> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("switchboard-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &endpoint.ca {
            builder = builder.use_preconfigured_tls(tls_config(ca)?);
        }
        let http = builder
            .build()
            .map_err(|e| CliError::Local(format!("HTTP client setup: {e}")))?;
        let base = Url::parse(&endpoint.url)
            .map_err(|e| CliError::Usage(format!("bad server URL {:?}: {e}", endpoint.url)))?;
        Ok(Client {
            http,
            base,
            token: endpoint.token.clone(),
            json,
        })
    }

    /// `<base>/api/<segments…>`, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("api").extend(segments);
        }
        url
    }

    /// Sends one request; `Ok(None)` for an empty (204) answer.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Option<Value>, CliError> {
        let url = self.url(segments);
        let shown = url.to_string();
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let connect_err = |e: reqwest::Error| CliError::Connect {
            url: shown.clone(),
            cause: cause_chain(&e),
        };
        let response = request.send().await.map_err(connect_err)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(connect_err)?;
        if !status.is_success() {
            return Err(api_error(status, &shown, &bytes));
        }
        if status == StatusCode::NO_CONTENT || bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CliError::Connect {
                url: shown,
                cause: format!("the answer is not JSON: {e}"),
            })
    }

    /// Posts a form to `<base>/<segments…>` outside `/api` (the OAuth endpoints), without the
    /// admin token: the endpoint authenticates the form's own credentials.
    pub async fn post_public_form(
        &self,
        segments: &[&str],
        form: &[(&str, &str)],
    ) -> Result<Value, CliError> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let shown = url.to_string();
        let connect_err = |e: reqwest::Error| CliError::Connect {
            url: shown.clone(),
            cause: cause_chain(&e),
        };
        let response = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(connect_err)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(connect_err)?;
        if !status.is_success() {
            return Err(api_error(status, &shown, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| CliError::Connect {
            url: shown,
            cause: format!("the answer is not JSON: {e}"),
        })
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Option<Value>, CliError> {
        self.send(Method::GET, segments, &[], None).await
    }

    pub async fn get_query(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Option<Value>, CliError> {
        self.send(Method::GET, segments, query, None).await
    }

    pub async fn post<B: Serialize>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<Option<Value>, CliError> {
        self.send(Method::POST, segments, &[], Some(to_json(body)?))
            .await
    }

    pub async fn post_empty(&self, segments: &[&str]) -> Result<Option<Value>, CliError> {
        self.send(Method::POST, segments, &[], None).await
    }

    pub async fn put<B: Serialize>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<Option<Value>, CliError> {
        self.send(Method::PUT, segments, &[], Some(to_json(body)?))
            .await
    }

    pub async fn patch<B: Serialize>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<Option<Value>, CliError> {
        self.send(Method::PATCH, segments, &[], Some(to_json(body)?))
            .await
    }

    pub async fn delete(&self, segments: &[&str]) -> Result<Option<Value>, CliError> {
        self.send(Method::DELETE, segments, &[], None).await
    }

    /// Prints an answer: its JSON with `--json`, else `human` of its decoded form.
    pub fn print<T: DeserializeOwned>(
        &self,
        answer: Option<Value>,
        human: impl FnOnce(T) -> String,
    ) -> Result<(), CliError> {
        let value = answer.unwrap_or(Value::Null);
        if self.json {
            super::output::print_json(&value);
            return Ok(());
        }
        let decoded = decode::<T>(value)?;
        super::output::print_text(&human(decoded));
        Ok(())
    }

    /// Prints `message` unless `--json` (where an empty answer prints nothing).
    pub fn done(&self, answer: Option<Value>, message: &str) {
        if self.json {
            if let Some(value) = answer {
                super::output::print_json(&value);
            }
        } else {
            super::output::print_text(message);
        }
    }
}

fn to_json<B: Serialize>(body: &B) -> Result<Value, CliError> {
    serde_json::to_value(body).map_err(|e| CliError::Local(format!("cannot encode request: {e}")))
}

/// Decodes an API answer into its model type.
pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T, CliError> {
    serde_json::from_value(value)
        .map_err(|e| CliError::Local(format!("unexpected answer from the node: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn args(dir: &Path) -> ConnectArgs {
        ConnectArgs {
            data_dir: dir.to_path_buf(),
            server: None,
            token: None,
            ca: None,
            json: false,
        }
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchboard-admin-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("certs")).unwrap();
        dir
    }

    #[test]
    fn missing_node_is_explained() {
        let dir = scratch_dir("missing");
        let err = resolve(&args(&dir)).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("no node found in {}", dir.display())));
        assert!(text.contains("`switchboard serve`"));
        assert!(text.contains("--server/--token"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn local_discovery_reads_the_data_dir() {
        let dir = scratch_dir("local");
        fs::write(dir.join("node.url"), "https://127.0.0.1:8443/\n").unwrap();
        fs::write(dir.join("admin.token"), "s3cret\n").unwrap();
        fs::write(dir.join("certs/tomcat.pem"), "pem").unwrap();
        let endpoint = resolve(&args(&dir)).unwrap();
        assert_eq!(
            endpoint,
            Endpoint {
                url: "https://127.0.0.1:8443".into(),
                token: "s3cret".into(),
                ca: Some(dir.join("certs/tomcat.pem")),
            }
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn remote_needs_a_token_and_trust() {
        let dir = scratch_dir("remote");
        let mut a = args(&dir);
        a.server = Some("https://ucm1.example.com:8443".into());
        assert!(resolve(&a).unwrap_err().to_string().contains("--token"));
        a.token = Some("t".into());
        let err = resolve(&a).unwrap_err();
        assert!(err.to_string().contains("--ca"), "{err}");
        assert_eq!(err.exit_status(), 2);
        fs::write(dir.join("certs/tomcat.pem"), "pem").unwrap();
        assert_eq!(resolve(&a).unwrap().ca, Some(dir.join("certs/tomcat.pem")));
        a.ca = Some("/etc/ca.pem".into());
        assert_eq!(resolve(&a).unwrap().ca, Some(PathBuf::from("/etc/ca.pem")));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn api_errors_show_message_and_field() {
        let err = api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "https://x/api/users",
            br#"{"error":"invalid","message":"userid must not be empty","field":"userid"}"#,
        );
        assert_eq!(err.to_string(), "userid must not be empty (field: userid)");
        let err = api_error(StatusCode::BAD_GATEWAY, "https://x/api/users", b"<html>");
        assert_eq!(
            err.to_string(),
            "HTTP 502 Bad Gateway from https://x/api/users: <html>"
        );
    }

    #[test]
    fn bad_ca_file_is_named() {
        let dir = scratch_dir("badca");
        let pem = dir.join("certs/tomcat.pem");
        fs::write(&pem, "not a certificate").unwrap();
        let err = tls_config(&pem).unwrap_err().to_string();
        assert!(err.contains("no certificate in"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    /// Serves one canned HTTP answer on a local port; returns the URL and the request it read.
    async fn one_shot(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = sock.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            sock.write_all(answer.as_bytes()).await.unwrap();
            sock.shutdown().await.unwrap();
            String::from_utf8(request).unwrap()
        });
        (url, task)
    }

    fn plain_client(url: &str) -> Client {
        Client::new(
            &Endpoint {
                url: url.into(),
                token: "tok".into(),
                ca: None,
            },
            false,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn sends_bearer_token_and_encoded_path() {
        let (url, task) = one_shot(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 16\r\nconnection: close\r\n\r\n{\"enabled\":true}",
        )
        .await;
        let client = plain_client(&url);
        let answer = client
            .patch(&["users", "a b/c"], &serde_json::json!({"enabled": true}))
            .await
            .unwrap();
        assert_eq!(answer, Some(serde_json::json!({"enabled": true})));
        let request = task.await.unwrap();
        assert!(
            request.starts_with("PATCH /api/users/a%20b%2Fc HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request
            .to_ascii_lowercase()
            .contains("authorization: bearer tok\r\n"));
        assert!(request.ends_with("{\"enabled\":true}"));
    }

    #[tokio::test]
    async fn no_content_and_errors() {
        let (url, task) = one_shot("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        assert_eq!(
            plain_client(&url).delete(&["lines", "1001"]).await.unwrap(),
            None
        );
        task.await.unwrap();

        let body = r#"{"error":"not_found","message":"no user bob"}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, task) = one_shot(answer).await;
        let err = plain_client(&url).get(&["users", "bob"]).await.unwrap_err();
        assert_eq!(err.to_string(), "no user bob");
        assert_eq!(err.exit_status(), 1);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn connection_failure_names_the_url() {
        // A port that was just free: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}");
        let err = plain_client(&url).get(&["ports"]).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot reach {url}/api/ports: ")),
            "{text}"
        );
    }
}
