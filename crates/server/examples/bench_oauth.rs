//! OAuth token endpoint benchmark: N concurrent clients hammer `POST /oauth/token` of a running
//! node for a fixed time, with the password grant (Argon2 on every request) and with the
//! refresh-token grant (each client rotating its own refresh-token chain), and print tokens/s
//! and latency percentiles. Run by `bench/oauth/run.sh`; see `bench/oauth/README.md`.
//!
//! `bench_oauth <data-dir> [--concurrency N] [--seconds S] [--grant password|refresh|both]
//!  [--user wwhite]`
//!
//! The node is the one whose data directory is given (its `node.url`, `certs/tomcat.pem` and,
//! for the demo user, `demo-credentials.txt`); it must have been started with `--demo`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Options {
    data: PathBuf,
    concurrency: usize,
    seconds: u64,
    grants: Vec<&'static str>,
    user: String,
}

fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(args.next().ok_or_else(|| {
        anyhow::anyhow!("usage: bench_oauth <data-dir> [--concurrency N] [--seconds S] [--grant password|refresh|both] [--user U]")
    })?);
    let mut o = Options {
        data,
        concurrency: 16,
        seconds: 10,
        grants: vec!["password", "refresh"],
        user: "wwhite".into(),
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--concurrency" => o.concurrency = value.parse()?,
            "--seconds" => o.seconds = value.parse()?,
            "--user" => o.user = value,
            "--grant" => {
                o.grants = match value.as_str() {
                    "password" => vec!["password"],
                    "refresh" => vec!["refresh"],
                    "both" => vec!["password", "refresh"],
                    other => anyhow::bail!("unknown grant {other}"),
                }
            }
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(
        o.concurrency >= 1 && o.seconds >= 1,
        "concurrency and seconds must be at least 1"
    );
    Ok(o)
}

struct Target {
    client: reqwest::Client,
    token_url: String,
    user: String,
    password: String,
}

impl Target {
    async fn grant(&self, form: &[(&str, &str)]) -> anyhow::Result<Value> {
        let resp = self.client.post(&self.token_url).form(form).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        anyhow::ensure!(
            status.is_success(),
            "{status}: {}",
            body["error_description"]
        );
        Ok(body)
    }

    async fn password_grant(&self) -> anyhow::Result<Value> {
        self.grant(&[
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", &self.user),
            ("password", &self.password),
        ])
        .await
    }

    async fn refresh_grant(&self, refresh: &str) -> anyhow::Result<Value> {
        self.grant(&[
            ("grant_type", "refresh_token"),
            ("client_id", "jabber"),
            ("refresh_token", refresh),
        ])
        .await
    }
}

/// What one client did: latencies of the successes, and the failures.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

async fn client_loop(target: Arc<Target>, grant: &'static str, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut refresh = None;
    if grant == "refresh" {
        match target.password_grant().await {
            Ok(body) => refresh = body["refresh_token"].as_str().map(str::to_owned),
            Err(e) => {
                tally.errors += 1;
                tally.first_error = Some(e.to_string());
                return tally;
            }
        }
    }
    while Instant::now() < until {
        let start = Instant::now();
        let outcome = match (&refresh, grant) {
            (Some(token), "refresh") => target.refresh_grant(token).await,
            _ => target.password_grant().await,
        };
        match outcome {
            Ok(body) => {
                tally.latencies.push(start.elapsed());
                if grant == "refresh" {
                    refresh = body["refresh_token"].as_str().map(str::to_owned);
                }
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e.to_string());
            }
        }
    }
    tally
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let read = |name: &str| std::fs::read_to_string(o.data.join(name));
    let url = read("node.url")?.trim().to_string();
    let cert = read("certs/tomcat.pem")?;
    let password = read("demo-credentials.txt")?
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{} ", o.user)).map(str::to_owned))
        .ok_or_else(|| anyhow::anyhow!("no password for {} in demo-credentials.txt", o.user))?;
    let tls = switchboard_pki::client_config_trusting(&[cert])?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(tls))
        .pool_max_idle_per_host(o.concurrency)
        .build()?;
    let target = Arc::new(Target {
        client,
        token_url: format!("{url}/oauth/token"),
        user: o.user.clone(),
        password,
    });
    println!(
        "# {url}: {} concurrent clients, {} s per grant",
        o.concurrency, o.seconds
    );
    for grant in &o.grants {
        let started = Instant::now();
        let until = started + Duration::from_secs(o.seconds);
        let tasks: Vec<_> = (0..o.concurrency)
            .map(|_| tokio::spawn(client_loop(target.clone(), grant, until)))
            .collect();
        let mut all = Tally::default();
        for task in tasks {
            let t = task.await?;
            all.latencies.extend(t.latencies);
            all.errors += t.errors;
            if all.first_error.is_none() {
                all.first_error = t.first_error;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.latencies.sort();
        println!(
            "{grant:<8} grant: {:>7} tokens in {elapsed:.1} s = {:>8.1} tokens/s  p50 {:.1} ms  p99 {:.1} ms  errors {}{}",
            all.latencies.len(),
            all.latencies.len() as f64 / elapsed,
            percentile(&all.latencies, 0.50),
            percentile(&all.latencies, 0.99),
            all.errors,
            all.first_error
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
        );
    }
    Ok(())
}
