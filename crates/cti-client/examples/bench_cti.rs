//! CTI Manager benchmark client (driven by `bench/cti/run.sh`; see `bench/cti/README.md`).
//!
//! Against one running node whose store holds the deskphones `SEP000000000001` … (password
//! `pw-<name>`, from `bench_provision`) and a CTI-enabled super provider with an OAuth access
//! token of scope `cti`, it measures, in this order:
//!
//! 1. **providers**: `--providers N` connections on the plain CTI port, each opening a
//!    provider by token (connect + `ProviderOpenRequest` → `ProviderOpenCompletedEvent`),
//!    `--concurrency C` at a time: opens/s and the latency of one open;
//! 2. **devices**: each of them opens its own device (`SEP…` number i for connection i):
//!    device opens/s. The server's memory (`VmRSS`, `VmHWM` of `--server-pid`) is read before
//!    1, after 1 and after 2: memory per provider;
//! 3. **registrations**, with the N providers connected: for each rate of `--reg-rates`, the
//!    first `--reg-count` devices register over SIP UDP (REGISTER → 401 → digest REGISTER →
//!    200, MD5, `qop=auth`), paced at that rate, then unregister (`Expires: 0`) at the same
//!    rate, in as many cycles as it takes to span `--reg-seconds` (every provider's heartbeat
//!    falls in the window). The bench timestamps the authenticated REGISTER it sends and the
//!    200 OK it gets; the CTI connection that opened the device timestamps its
//!    `DeviceInServiceEvent` (`DeviceOutOfServiceEvent` for the unregistration). One process,
//!    one clock.
//! 4. **sweep**: the N connections are dropped, then for each concurrency of `--sweep`,
//!    `--sweep-providers` providers are opened again (and dropped): the best opens/s.
//!
//! The server's CPU (utime + stime of `/proc/<pid>/stat`) and this process's are read at the
//! edges of every phase.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use switchboard_auth::digest::{self, DigestAlgorithm};
use switchboard_cti_client::{
    ClientError, CtiClient, Message, ProviderOptions, Target, DEVICE_STATE_EVENTS,
};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const CLK_TCK: f64 = 100.0;

/// The registrar's digest realm (`crates/sip/src/registrar.rs`).
const REALM: &str = "ccmsipline";

struct Args {
    cti: SocketAddr,
    sip: SocketAddr,
    login: String,
    token: String,
    server_pid: Option<u32>,
    server_log: Option<std::path::PathBuf>,
    providers: usize,
    concurrency: usize,
    reg_count: usize,
    reg_rates: Vec<u32>,
    reg_seconds: u64,
    sweep: Vec<usize>,
    sweep_providers: usize,
    heartbeat_s: u32,
    samples: Option<std::path::PathBuf>,
}

const USAGE: &str = "usage: bench_cti --cti ADDR --sip ADDR --login USER --token-file FILE \
[--server-pid PID [--server-log FILE]] [--providers 10000] [--concurrency 128] [--reg-count 5000] \
[--reg-rates 250,1000] [--reg-seconds 35] [--sweep 64,128,256,512] [--sweep-providers 10000] [--heartbeat 30] \
[--samples DIR]";

fn list<T: std::str::FromStr>(s: &str) -> anyhow::Result<Vec<T>> {
    s.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("bad list item {x:?}"))
        })
        .collect()
}

fn parse_args() -> anyhow::Result<Args> {
    let mut cti = None;
    let mut sip = None;
    let mut login = None;
    let mut token = None;
    let mut a = Args {
        cti: "127.0.0.1:2748".parse()?,
        sip: "127.0.0.1:5060".parse()?,
        login: String::new(),
        token: String::new(),
        server_pid: None,
        server_log: None,
        providers: 10_000,
        concurrency: 128,
        reg_count: 5_000,
        reg_rates: vec![250, 1000],
        reg_seconds: 35,
        sweep: vec![64, 128, 256, 512],
        sweep_providers: 10_000,
        heartbeat_s: 30,
        samples: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--cti" => cti = Some(value.parse()?),
            "--sip" => sip = Some(value.parse()?),
            "--login" => login = Some(value),
            "--token-file" => token = Some(std::fs::read_to_string(&value)?.trim().to_owned()),
            "--server-pid" => a.server_pid = Some(value.parse()?),
            "--server-log" => a.server_log = Some(value.into()),
            "--providers" => a.providers = value.parse()?,
            "--concurrency" => a.concurrency = value.parse()?,
            "--reg-count" => a.reg_count = value.parse()?,
            "--reg-rates" => a.reg_rates = list(&value)?,
            "--reg-seconds" => a.reg_seconds = value.parse()?,
            "--sweep" => a.sweep = list(&value)?,
            "--sweep-providers" => a.sweep_providers = value.parse()?,
            "--heartbeat" => a.heartbeat_s = value.parse()?,
            "--samples" => a.samples = Some(value.into()),
            _ => anyhow::bail!("unknown flag {flag}\n{USAGE}"),
        }
    }
    a.cti = cti.unwrap_or(a.cti);
    a.sip = sip.unwrap_or(a.sip);
    a.login = login.ok_or_else(|| anyhow::anyhow!("--login is required\n{USAGE}"))?;
    a.token = token.ok_or_else(|| anyhow::anyhow!("--token-file is required\n{USAGE}"))?;
    anyhow::ensure!(a.concurrency > 0, "--concurrency must be positive");
    anyhow::ensure!(
        a.reg_count <= a.providers,
        "--reg-count must not exceed --providers (only opened devices report events)"
    );
    Ok(a)
}

fn device_name(i: usize) -> String {
    format!("SEP{:012X}", i + 1)
}

// ---------------------------------------------------------------------------------------
// /proc readings

#[derive(Debug, Clone, Copy, Default)]
struct ProcStats {
    rss_kb: u64,
    hwm_kb: u64,
    /// utime + stime, clock ticks.
    ticks: u64,
    threads: u64,
    fds: u64,
}

fn proc_stats(pid: &str) -> ProcStats {
    let mut s = ProcStats::default();
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in status.lines() {
            let num = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("VmRSS:") {
                s.rss_kb = num(line);
            } else if line.starts_with("VmHWM:") {
                s.hwm_kb = num(line);
            } else if line.starts_with("Threads:") {
                s.threads = num(line);
            }
        }
    }
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields after the command (which may hold spaces) start after the last ')'.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
            let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            s.ticks = t(11) + t(12);
        }
    }
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        s.fds = dir.count() as u64;
    }
    s
}

/// `TcpExt: ListenOverflows` of `/proc/net/netstat` (this network namespace): connections
/// dropped because a listening socket's accept queue was full (the client's SYN is then
/// retransmitted after 1 s, 3 s…).
fn listen_overflows() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/netstat") else {
        return 0;
    };
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let [names, values] = rows.as_slice() else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// The server's and this process's readings at one instant.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    server: Option<ProcStats>,
    client: ProcStats,
    listen_overflows: u64,
}

struct Probe {
    server_pid: Option<String>,
    /// The server's standard output, where `kill -USR1` makes it print its heap in use.
    server_log: Option<std::path::PathBuf>,
}

impl Probe {
    /// The server's heap in use (bytes the program asked its allocator for and did not free
    /// yet), from `kill -USR1` and the line it prints: `memory: heap in use N bytes, …`.
    async fn heap(&self) -> Option<u64> {
        let (pid, log) = (self.server_pid.as_deref()?, self.server_log.as_ref()?);
        let last = |text: &str| {
            text.lines()
                .rev()
                .find_map(|l| l.strip_prefix("memory: heap in use "))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        let lines_before = std::fs::read_to_string(log).ok()?.lines().count();
        let status = std::process::Command::new("kill")
            .args(["-USR1", pid])
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let text = std::fs::read_to_string(log).ok()?;
            if text.lines().count() > lines_before {
                if let Some(n) = last(&text) {
                    return Some(n);
                }
            }
        }
        None
    }

    fn mark(&self) -> Mark {
        Mark {
            at: Instant::now(),
            server: self.server_pid.as_deref().map(proc_stats),
            client: proc_stats("self"),
            listen_overflows: listen_overflows(),
        }
    }

    fn server(&self) -> Option<ProcStats> {
        self.server_pid.as_deref().map(proc_stats)
    }
}

/// CPU used between two marks, in % of one core: (server, client).
fn cpu(a: &Mark, b: &Mark) -> (Option<f64>, f64) {
    let secs = (b.at - a.at).as_secs_f64().max(1e-9);
    let pct = |x: u64, y: u64| (y.saturating_sub(x)) as f64 / CLK_TCK / secs * 100.0;
    let server = match (a.server, b.server) {
        (Some(x), Some(y)) => Some(pct(x.ticks, y.ticks)),
        _ => None,
    };
    (server, pct(a.client.ticks, b.client.ticks))
}

fn fmt_cpu(c: Option<f64>) -> String {
    c.map(|v| format!("{v:.0} %"))
        .unwrap_or_else(|| "n/a".into())
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------
// Percentiles

/// p-th percentile (nearest rank) of sorted samples.
fn pct<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// "p50 … p90 … p99 … max …" of microsecond samples, in ms.
fn dist_us(samples: &mut [i64]) -> String {
    samples.sort_unstable();
    let ms = |v: Option<i64>| {
        v.map(|v| format!("{:.3}", v as f64 / 1000.0))
            .unwrap_or_else(|| "-".into())
    };
    format!(
        "p50 {} p90 {} p99 {} max {} ms (n={})",
        ms(pct(samples, 50.0)),
        ms(pct(samples, 90.0)),
        ms(pct(samples, 99.0)),
        ms(samples.last().copied()),
        samples.len()
    )
}

fn us_between(from: Instant, to: Instant) -> i64 {
    if to >= from {
        (to - from).as_micros() as i64
    } else {
        -((from - to).as_micros() as i64)
    }
}

fn write_samples(dir: &Option<std::path::PathBuf>, name: &str, samples: &[i64]) {
    let Some(dir) = dir else { return };
    let _ = std::fs::create_dir_all(dir);
    let text: String = samples.iter().map(|v| format!("{v}\n")).collect();
    if let Err(e) = std::fs::write(dir.join(format!("{name}.us")), text) {
        eprintln!("cannot write samples {name}: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// Bounded concurrency

struct Outcome<T> {
    ok: Vec<(usize, T)>,
    latencies_us: Vec<i64>,
    errors: HashMap<String, usize>,
    elapsed: Duration,
}

impl<T> Outcome<T> {
    fn failed(&self) -> usize {
        self.errors.values().sum()
    }

    fn errors_text(&self) -> String {
        let mut e: Vec<_> = self.errors.iter().collect();
        e.sort_by(|a, b| b.1.cmp(a.1));
        e.iter()
            .take(3)
            .map(|(k, v)| format!("{v}× {k}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Runs `job(i)` for i in 0..n, at most `concurrency` at once, polled from this task.
async fn bounded<T, Fut>(
    n: usize,
    concurrency: usize,
    mut job: impl FnMut(usize) -> Fut,
) -> Outcome<T>
where
    Fut: Future<Output = (usize, Result<T, String>)>,
{
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut next = 0;
    let mut out = Outcome {
        ok: Vec::with_capacity(n),
        latencies_us: Vec::with_capacity(n),
        errors: HashMap::new(),
        elapsed: Duration::ZERO,
    };
    loop {
        while next < n && pending.len() < concurrency {
            let fut = job(next);
            pending.push(async move {
                let t = Instant::now();
                let (i, r) = fut.await;
                (i, r, t.elapsed())
            });
            next += 1;
        }
        match pending.next().await {
            Some((i, r, took)) => match r {
                Ok(v) => {
                    out.latencies_us.push(took.as_micros() as i64);
                    out.ok.push((i, v));
                }
                Err(e) => *out.errors.entry(e).or_default() += 1,
            },
            None => break,
        }
    }
    out.elapsed = started.elapsed();
    out
}

fn short(e: &ClientError) -> String {
    let text = e.to_string();
    text.chars().take(120).collect()
}

async fn open_provider(cti: SocketAddr, options: ProviderOptions) -> Result<CtiClient, String> {
    let mut client = CtiClient::connect(Target::Plain(cti))
        .await
        .map_err(|e| format!("connect: {}", short(&e)))?;
    client
        .open_provider(options)
        .await
        .map_err(|e| format!("open: {}", short(&e)))?;
    Ok(client)
}

/// Opens `n` providers, `concurrency` at a time; prints the phase and returns the clients in
/// index order (`None` where the open failed).
async fn open_providers(
    args: &Args,
    probe: &Probe,
    label: &str,
    n: usize,
    concurrency: usize,
) -> (Vec<Option<CtiClient>>, f64) {
    let before = probe.mark();
    let cti = args.cti;
    let mut options = ProviderOptions::token(args.login.clone(), args.token.clone());
    options.application = "bench_cti".into();
    options.heartbeat_s = args.heartbeat_s;
    let mut out = bounded(n, concurrency, |i| {
        let options = options.clone();
        async move { (i, open_provider(cti, options).await) }
    })
    .await;
    let after = probe.mark();
    let (server_cpu, client_cpu) = cpu(&before, &after);
    let rate = out.ok.len() as f64 / out.elapsed.as_secs_f64();
    println!(
        "{label}: {} providers opened by token ({} failed) in {:.2} s at concurrency {concurrency}: \
         {rate:.0} opens/s; open latency {}; server CPU {} client CPU {client_cpu:.0} %; \
         accept-queue overflows {}{}",
        out.ok.len(),
        out.failed(),
        out.elapsed.as_secs_f64(),
        dist_us(&mut out.latencies_us),
        fmt_cpu(server_cpu),
        after.listen_overflows.saturating_sub(before.listen_overflows),
        if out.failed() > 0 {
            format!("; errors: {}", out.errors_text())
        } else {
            String::new()
        }
    );
    write_samples(&args.samples, &format!("{label}-open"), &out.latencies_us);
    let mut clients: Vec<Option<CtiClient>> = (0..n).map(|_| None).collect();
    for (i, c) in out.ok {
        clients[i] = Some(c);
    }
    (clients, rate)
}

/// Drops every client, then waits for the server to close them ([`settle`]).
async fn drop_all(clients: Vec<Option<CtiClient>>, probe: &Probe, base_fds: u64) {
    let n = clients.iter().filter(|c| c.is_some()).count();
    drop(clients);
    settle(n, probe, base_fds).await;
}

/// Waits until the server has closed `n` dropped connections (its descriptor count back near
/// `base_fds`), at most 60 s.
async fn settle(n: usize, probe: &Probe, base_fds: u64) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match probe.server() {
            Some(s) if s.fds > base_fds + 32 && started.elapsed() < Duration::from_secs(60) => {}
            Some(s) => {
                println!(
                    "  dropped {n} connections; server back to {} descriptors after {:.1} s",
                    s.fds,
                    started.elapsed().as_secs_f64()
                );
                break;
            }
            None => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                break;
            }
        }
    }
    // Let the closes' work (and the sockets' TIME_WAIT bookkeeping) settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
}

// ---------------------------------------------------------------------------------------
// Device events, recorded by the connection that opened the device

#[derive(Default)]
struct EventTimes {
    in_service: Vec<Option<Instant>>,
    out_of_service: Vec<Option<Instant>>,
    /// Connections that ended during the run, by reason.
    closed: HashMap<String, usize>,
    /// Events that were neither (unexpected).
    other: usize,
}

type SharedTimes = Arc<Mutex<EventTimes>>;

fn lock(t: &SharedTimes) -> std::sync::MutexGuard<'_, EventTimes> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads one connection's events until it ends or the task is aborted.
async fn hold(i: usize, mut client: CtiClient, times: SharedTimes) {
    loop {
        let event = client.next_event().await;
        let now = Instant::now();
        let mut t = lock(&times);
        match event {
            Some(Ok(Message::DeviceInServiceEvent(_))) => t.in_service[i] = Some(now),
            Some(Ok(Message::DeviceOutOfServiceEvent(_))) => t.out_of_service[i] = Some(now),
            Some(Ok(_)) => t.other += 1,
            Some(Err(e)) => {
                *t.closed.entry(short(&e)).or_default() += 1;
                return;
            }
            None => return,
        }
    }
}

// ---------------------------------------------------------------------------------------
// A minimal SIP UDP registering client

struct Sip {
    socket: UdpSocket,
    server: SocketAddr,
    local: SocketAddr,
    /// "Call-ID CSeq-number" → who waits for that response.
    waiting: Mutex<HashMap<String, oneshot::Sender<(Instant, String)>>>,
}

fn header<'a>(msg: &'a str, names: &[&str]) -> Option<&'a str> {
    msg.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        names
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
            .then(|| value.trim())
    })
}

fn status_code(msg: &str) -> Option<u16> {
    let first = msg.lines().next()?;
    let mut parts = first.split_whitespace();
    (parts.next()? == "SIP/2.0").then_some(())?;
    parts.next()?.parse().ok()
}

/// `nonce` of the first MD5 `WWW-Authenticate` challenge with `qop="auth"`.
fn md5_nonce(msg: &str) -> Option<String> {
    msg.lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("WWW-Authenticate")
                .then_some(value.trim())
        })
        .find(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("algorithm=md5") && (v.contains("qop=\"auth\"") || v.contains("qop=auth"))
        })
        .and_then(|v| {
            let start = v.find("nonce=\"")? + "nonce=\"".len();
            let end = v[start..].find('"')? + start;
            Some(v[start..end].to_owned())
        })
}

impl Sip {
    async fn new(server: SocketAddr) -> anyhow::Result<Arc<Sip>> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local = socket.local_addr()?;
        let sip = Arc::new(Sip {
            socket,
            server,
            local,
            waiting: Mutex::new(HashMap::new()),
        });
        let reader = sip.clone();
        tokio::spawn(async move { reader.receive().await });
        Ok(sip)
    }

    async fn receive(&self) {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, _)) = self.socket.recv_from(&mut buf).await else {
                return;
            };
            let at = Instant::now();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let (Some(call_id), Some(cseq)) = (
                header(&text, &["Call-ID", "i"]),
                header(&text, &["CSeq"]).and_then(|c| c.split_whitespace().next()),
            ) else {
                continue;
            };
            let key = format!("{call_id} {cseq}");
            let waiter = self
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            if let Some(w) = waiter {
                let _ = w.send((at, text));
            }
        }
    }

    /// Sends one request and waits for its final response, retransmitting after 0.5, 1 and
    /// 2 s (RFC 3261's T1 doubling) and giving up after 4 s. Returns (when the request was
    /// first sent, when the response came, the response, retransmissions).
    async fn transaction(
        &self,
        key: String,
        request: String,
    ) -> Result<(Instant, Instant, String, u32), String> {
        let (tx, mut rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), tx);
        let sent = Instant::now();
        let mut retrans = 0;
        for wait_ms in [500u64, 1000, 2000, 500] {
            self.socket
                .send_to(request.as_bytes(), self.server)
                .await
                .map_err(|e| format!("send: {e}"))?;
            match tokio::time::timeout(Duration::from_millis(wait_ms), &mut rx).await {
                Ok(Ok((at, response))) => return Ok((sent, at, response, retrans)),
                Ok(Err(_)) => return Err("receiver gone".into()),
                Err(_) => retrans += 1,
            }
        }
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        Err("no response (timeout)".into())
    }

    fn request(
        &self,
        device: &str,
        call_id: &str,
        cseq: u32,
        expires: u32,
        authorization: Option<&str>,
    ) -> String {
        let server = self.server.ip();
        let local = self.local;
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id}-{cseq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{device}@{server}>;tag={call_id}\r\n\
             To: <sip:{device}@{server}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{device}@{local};transport=udp>;+u.sip!devicename.ccm.cisco.com=\"{device}\"\r\n\
             {auth}\
             Expires: {expires}\r\n\
             User-Agent: switchboard-bench-cti\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    /// REGISTER → 401 → REGISTER with digest → 200. Returns (when the authenticated REGISTER
    /// was sent, when its 200 came, retransmissions).
    async fn register(
        &self,
        i: usize,
        pass: &str,
        expires: u32,
    ) -> Result<(Instant, Instant, u32), String> {
        let device = device_name(i);
        let call_id = format!("{pass}-{i}");
        let first = self.request(&device, &call_id, 1, expires, None);
        let (_, _, challenge, r1) = self
            .transaction(format!("{call_id} 1"), first)
            .await
            .map_err(|e| format!("REGISTER: {e}"))?;
        match status_code(&challenge) {
            Some(401) => {}
            other => return Err(format!("REGISTER answered {other:?}, not 401")),
        }
        let nonce = md5_nonce(&challenge).ok_or("401 without an MD5 qop=auth challenge")?;
        let password = format!("pw-{device}");
        let uri = format!("sip:{}", self.server.ip());
        let cnonce = format!("{:08x}", rand::random::<u32>());
        let nc = "00000001";
        let ha1 = digest::ha1(DigestAlgorithm::Md5, &device, REALM, &password);
        let response = digest::response(
            DigestAlgorithm::Md5,
            &ha1,
            &nonce,
            nc,
            &cnonce,
            "auth",
            "REGISTER",
            &uri,
        );
        let authorization = format!(
            "Digest username=\"{device}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5, cnonce=\"{cnonce}\", qop=auth, nc={nc}"
        );
        let second = self.request(&device, &call_id, 2, expires, Some(&authorization));
        let (sent, at, ok, r2) = self
            .transaction(format!("{call_id} 2"), second)
            .await
            .map_err(|e| format!("digest REGISTER: {e}"))?;
        match status_code(&ok) {
            Some(200) => Ok((sent, at, r1 + r2)),
            other => Err(format!("digest REGISTER answered {other:?}, not 200")),
        }
    }
}

/// What the passes of one kind (registrations or unregistrations) at one rate measured,
/// pooled over the cycles.
#[derive(Default)]
struct PassStats {
    offered: usize,
    ok: usize,
    retrans: u32,
    errors: HashMap<String, usize>,
    /// 200 OK after the digest REGISTER, µs.
    response: Vec<i64>,
    /// Event after the digest REGISTER, µs.
    from_send: Vec<i64>,
    /// Event after the 200 OK, µs (negative: the event came first).
    from_200: Vec<i64>,
    event_first: usize,
    missing: usize,
    /// Time spent sending, and the server's and client's CPU ticks meanwhile.
    sending: Duration,
    server_ticks: Option<u64>,
    client_ticks: u64,
}

/// One pass: devices 0..count register (expires > 0) or unregister (expires 0) at `rate`/s;
/// adds what it measured to `stats`.
async fn registration_pass(
    args: &Args,
    probe: &Probe,
    sip: &Arc<Sip>,
    times: &SharedTimes,
    (rate, cycle, register): (u32, usize, bool),
    stats: &mut PassStats,
) {
    let count = args.reg_count;
    let expires = if register { 3600 } else { 0 };
    {
        let mut t = lock(times);
        let slot = if register {
            &mut t.in_service
        } else {
            &mut t.out_of_service
        };
        slot.iter_mut().for_each(|s| *s = None);
    }
    // Call-ID, tag and branch: tokens, unique per pass.
    let pass = format!(
        "{}{rate}c{cycle}-{}",
        if register { "reg" } else { "unreg" },
        std::process::id()
    );
    let before = probe.mark();
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        tokio::time::sleep_until(start + period * i as u32).await;
        let sip = sip.clone();
        let pass = pass.clone();
        handles.push(tokio::spawn(async move {
            sip.register(i, &pass, expires).await
        }));
    }
    let mut results = Vec::with_capacity(count);
    for h in handles {
        results.push(h.await.unwrap_or_else(|e| Err(format!("task: {e}"))));
    }
    let after = probe.mark();
    stats.sending += after.at - before.at;
    if let (Some(a), Some(b)) = (before.server, after.server) {
        *stats.server_ticks.get_or_insert(0) += b.ticks.saturating_sub(a.ticks);
    }
    stats.client_ticks += after.client.ticks.saturating_sub(before.client.ticks);
    // Give the last events time to arrive.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let missing = {
            let t = lock(times);
            let slot = if register {
                &t.in_service
            } else {
                &t.out_of_service
            };
            results
                .iter()
                .enumerate()
                .filter(|(i, r)| r.is_ok() && slot[*i].is_none())
                .count()
        };
        if missing == 0 || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = lock(times);
    let slot = if register {
        &t.in_service
    } else {
        &t.out_of_service
    };
    stats.offered += count;
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok((sent, got_200, re)) => {
                stats.ok += 1;
                stats.retrans += re;
                stats.response.push(us_between(*sent, *got_200));
                match slot[i] {
                    Some(event) => {
                        let d = us_between(*got_200, event);
                        if d < 0 {
                            stats.event_first += 1;
                        }
                        stats.from_200.push(d);
                        stats.from_send.push(us_between(*sent, event));
                    }
                    None => stats.missing += 1,
                }
            }
            Err(e) => *stats.errors.entry(e.clone()).or_default() += 1,
        }
    }
}

/// Prints (and saves) what the passes of one kind at one rate measured.
fn report_passes(args: &Args, rate: u32, cycles: usize, register: bool, mut s: PassStats) {
    let (label, what, event) = if register {
        (
            format!("register@{rate}"),
            "registrations",
            "DeviceInServiceEvent",
        )
    } else {
        (
            format!("unregister@{rate}"),
            "unregistrations",
            "DeviceOutOfServiceEvent",
        )
    };
    let secs = s.sending.as_secs_f64().max(1e-9);
    let server_cpu = s.server_ticks.map(|t| t as f64 / CLK_TCK / secs * 100.0);
    let client_cpu = s.client_ticks as f64 / CLK_TCK / secs * 100.0;
    println!(
        "{label}: {}/{} {what} ok ({cycles} × {} devices at {rate}/s, {:.0} s; {} failed, {} \
         retransmissions), server CPU {} client CPU {client_cpu:.0} %{}",
        s.ok,
        s.offered,
        args.reg_count,
        secs,
        s.offered - s.ok,
        s.retrans,
        fmt_cpu(server_cpu),
        if s.errors.is_empty() {
            String::new()
        } else {
            format!("; errors: {:?}", s.errors)
        }
    );
    write_samples(
        &args.samples,
        &format!("{label}-event-from-200"),
        &s.from_200,
    );
    write_samples(
        &args.samples,
        &format!("{label}-event-from-send"),
        &s.from_send,
    );
    write_samples(
        &args.samples,
        &format!("{label}-200-from-send"),
        &s.response,
    );
    println!(
        "  200 OK after the digest REGISTER:         {}",
        dist_us(&mut s.response)
    );
    println!(
        "  {event} after the digest REGISTER: {}",
        dist_us(&mut s.from_send)
    );
    println!(
        "  {event} after its 200 OK:          {} ({} before the 200 OK; {} missing)",
        dist_us(&mut s.from_200),
        s.event_first,
        s.missing
    );
}

/// For each rate: register/unregister cycles of the first `reg_count` devices, as many as it
/// takes to span `reg_seconds` (so that the window holds every provider's heartbeat).
async fn registrations(args: &Args, probe: &Probe, sip: &Arc<Sip>, times: &SharedTimes) {
    for &rate in &args.reg_rates {
        let cycle_s = 2.0 * args.reg_count as f64 / f64::from(rate.max(1));
        let cycles = ((args.reg_seconds as f64 / cycle_s).ceil() as usize).max(1);
        let mut reg = PassStats::default();
        let mut unreg = PassStats::default();
        for cycle in 0..cycles {
            registration_pass(args, probe, sip, times, (rate, cycle, true), &mut reg).await;
            registration_pass(args, probe, sip, times, (rate, cycle, false), &mut unreg).await;
        }
        report_passes(args, rate, cycles, true, reg);
        report_passes(args, rate, cycles, false, unreg);
    }
}

// ---------------------------------------------------------------------------------------

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // One thread: the script pins this process to one core.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let probe = Probe {
        server_pid: args.server_pid.map(|p| p.to_string()),
        server_log: args.server_log.clone(),
    };
    let n = args.providers;
    println!(
        "bench_cti: cti {} sip {} login {} providers {n} concurrency {} heartbeat {} s",
        args.cti, args.sip, args.login, args.concurrency, args.heartbeat_s
    );

    // 1. providers, 2. one device each
    let h0 = probe.heap().await;
    let m0 = probe.mark();
    let base_fds = m0.server.map(|s| s.fds).unwrap_or(0);
    let (clients, _) = open_providers(&args, &probe, "providers", n, args.concurrency).await;
    let m1 = probe.mark();
    let h1 = probe.heap().await;
    // Each device-open job takes its connection out of this list.
    let jobs = Mutex::new(clients);
    let before = probe.mark();
    let mut devices = bounded(n, args.concurrency, |i| {
        let client = jobs.lock().unwrap_or_else(|p| p.into_inner())[i].take();
        async move {
            let Some(mut client) = client else {
                return (i, Err("no provider".to_string()));
            };
            match client
                .open_device(&device_name(i), DEVICE_STATE_EVENTS)
                .await
            {
                Ok(_) => (i, Ok(client)),
                Err(e) => (i, Err(format!("device open: {}", short(&e)))),
            }
        }
    })
    .await;
    let m2 = probe.mark();
    let h2 = probe.heap().await;
    let (server_cpu, client_cpu) = cpu(&before, &m2);
    let opened = devices.ok.len();
    let no_provider = devices.errors.remove("no provider").unwrap_or(0);
    println!(
        "devices: {opened} devices opened (one per provider; {} failed, {no_provider} without a provider) \
         in {:.2} s at concurrency {}: {:.0} opens/s; open latency {}; server CPU {} client CPU {client_cpu:.0} %{}",
        devices.failed(),
        devices.elapsed.as_secs_f64(),
        args.concurrency,
        opened as f64 / devices.elapsed.as_secs_f64(),
        dist_us(&mut devices.latencies_us),
        fmt_cpu(server_cpu),
        if devices.failed() > 0 {
            format!("; errors: {}", devices.errors_text())
        } else {
            String::new()
        }
    );
    if let (Some(s0), Some(s1), Some(s2)) = (m0.server, m1.server, m2.server) {
        let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 * 1024.0 / opened.max(1) as f64;
        println!(
            "memory: server VmRSS {} before, {} with {} providers, {} with their devices open \
             (VmHWM {}, {} threads, {} descriptors); per provider with one device: {:.0} B \
             (provider {:.0} B + device open {:.0} B)",
            mb(s0.rss_kb),
            mb(s1.rss_kb),
            n,
            mb(s2.rss_kb),
            mb(s2.hwm_kb),
            s2.threads,
            s2.fds,
            per(s0.rss_kb, s2.rss_kb),
            per(s0.rss_kb, s1.rss_kb),
            per(s1.rss_kb, s2.rss_kb),
        );
    }
    if let (Some(h0), Some(h1), Some(h2)) = (h0, h1, h2) {
        let per = |a: u64, b: u64| (b as f64 - a as f64) / opened.max(1) as f64;
        println!(
            "memory: server heap in use {} before, {} with the providers, {} with their devices \
             open; per provider with one device: {:.0} B (provider {:.0} B + device open {:.0} B)",
            mb(h0 / 1024),
            mb(h1 / 1024),
            mb(h2 / 1024),
            per(h0, h2),
            per(h0, h1),
            per(h1, h2),
        );
    }
    println!(
        "memory: bench client VmRSS {} (VmHWM {})",
        mb(m2.client.rss_kb),
        mb(m2.client.hwm_kb)
    );

    // 3. registrations with the providers connected
    let times: SharedTimes = Arc::new(Mutex::new(EventTimes {
        in_service: vec![None; n],
        out_of_service: vec![None; n],
        ..Default::default()
    }));
    let holders: Vec<_> = devices
        .ok
        .drain(..)
        .map(|(i, client)| tokio::spawn(hold(i, client, times.clone())))
        .collect();
    if args.reg_count > 0 && !args.reg_rates.is_empty() {
        let sip = Sip::new(args.sip).await?;
        registrations(&args, &probe, &sip, &times).await;
    }
    let m3 = probe.mark();
    {
        let t = lock(&times);
        let closed: usize = t.closed.values().sum();
        println!(
            "held: {} connections held through the registrations; {closed} ended meanwhile{}{}",
            holders.len(),
            if closed > 0 {
                format!(" ({:?})", t.closed)
            } else {
                String::new()
            },
            if t.other > 0 {
                format!("; {} unexpected events", t.other)
            } else {
                String::new()
            }
        );
    }
    if let Some(s3) = m3.server {
        println!(
            "memory: server VmRSS {} after the registrations (VmHWM {}){}",
            mb(s3.rss_kb),
            mb(s3.hwm_kb),
            probe
                .heap()
                .await
                .map(|h| format!(", heap in use {}", mb(h / 1024)))
                .unwrap_or_default()
        );
    }

    // 4. open-rate sweep
    let held = holders.len();
    for h in &holders {
        h.abort();
    }
    for h in holders {
        let _ = h.await;
    }
    settle(held, &probe, base_fds).await;
    let mut best: Option<(f64, usize)> = None;
    for &c in &args.sweep {
        let (clients, rate) = open_providers(
            &args,
            &probe,
            &format!("sweep@{c}"),
            args.sweep_providers,
            c,
        )
        .await;
        if best.is_none_or(|(r, _)| rate > r) {
            best = Some((rate, c));
        }
        drop_all(clients, &probe, base_fds).await;
    }
    if let Some((rate, c)) = best {
        println!("best: {rate:.0} provider opens/s by token at concurrency {c}");
    }
    if let Some(s) = probe.server() {
        println!(
            "memory: server VmRSS {} at the end (VmHWM {})",
            mb(s.rss_kb),
            mb(s.hwm_kb)
        );
    }
    Ok(())
}
