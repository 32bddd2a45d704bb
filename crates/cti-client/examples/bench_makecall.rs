//! CTI call-control latency benchmark (driven by `bench/calls/run.sh`; see
//! `bench/calls/README.md`).
//!
//! Against a running node: one provider (password login, sealed, on the plain CTI port) opens
//! `--device` with call events, then places `--calls` calls one after another, each
//! `MakeCallRequest` (to `--destination`) → wait for the device's `CallStateChangedEvent`
//! `connected` (the deskphone answered its auto-answer INVITE, the destination answered and
//! the node bridged them) → `DropRequest` → wait for `CallEndedEvent`. It measures, per call,
//! the time from sending `MakeCallRequest` to its `MakeCallResponse` and to `connected`, and
//! from `DropRequest` to `CallEndedEvent`; prints p50/p90/p99/max of each and the failures.
//!
//! `bench_makecall --cti ADDR --login USER --password-file F --device NAME --destination DN
//! [--calls 1000] [--warmup 20] [--samples FILE]`

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_cti_client::proto::{CallId, CallState};
use switchboard_cti_client::{CtiClient, Message, ProviderOptions, Target, ALL_DEVICE_EVENTS};
use tokio::time::Instant;

const USAGE: &str = "bench_makecall --cti ADDR --login USER --password-file F --device NAME \
--destination DN [--calls 1000] [--warmup 20] [--samples FILE]";

/// How long one call may take to connect or to end before it counts as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    cti: SocketAddr,
    login: String,
    password: String,
    device: String,
    destination: String,
    calls: usize,
    warmup: usize,
    samples: Option<std::path::PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let (mut cti, mut login, mut password, mut device, mut destination) =
        (None, None, None, None, None);
    let (mut calls, mut warmup, mut samples) = (1000, 20, None);
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
            "--login" => login = Some(value),
            "--password-file" => {
                password = Some(std::fs::read_to_string(&value)?.trim().to_owned())
            }
            "--device" => device = Some(value),
            "--destination" => destination = Some(value),
            "--calls" => calls = value.parse()?,
            "--warmup" => warmup = value.parse()?,
            "--samples" => samples = Some(value.into()),
            _ => anyhow::bail!("unknown option {flag}\n{USAGE}"),
        }
    }
    let missing = |name: &str| anyhow::anyhow!("{name} is required\n{USAGE}");
    Ok(Args {
        cti: cti.ok_or_else(|| missing("--cti"))?,
        login: login.ok_or_else(|| missing("--login"))?,
        password: password.ok_or_else(|| missing("--password-file"))?,
        device: device.ok_or_else(|| missing("--device"))?,
        destination: destination.ok_or_else(|| missing("--destination"))?,
        calls,
        warmup,
        samples,
    })
}

/// One call's timings, milliseconds.
struct Sample {
    response_ms: f64,
    connected_ms: f64,
    ended_ms: f64,
}

/// Waits for an event of `call_id` matching `wanted`; with `ending_fails`, any event of the
/// call saying it ended or disconnected first is an error naming it.
async fn wait_for(
    client: &mut CtiClient,
    call_id: CallId,
    ending_fails: bool,
    wanted: impl Fn(&Message) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = client.next_event_timeout(left).await?;
        if wanted(&event) {
            return Ok(());
        }
        if !ending_fails {
            continue;
        }
        match &event {
            Message::CallStateChangedEvent(e)
                if e.call_id == call_id && e.state == CallState::Disconnected =>
            {
                anyhow::bail!("call {call_id:?} disconnected: {:?}", e.cause)
            }
            Message::CallEndedEvent(e) if e.call_id == call_id => {
                anyhow::bail!("call {call_id:?} ended: {:?}", e.cause)
            }
            _ => {}
        }
    }
}

async fn one_call(client: &mut CtiClient, handle: u32, args: &Args) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let made = client.make_call(handle, &args.destination, None).await?;
    let response_ms = started.elapsed().as_secs_f64() * 1e3;
    let call_id = made.call_id;
    wait_for(client, call_id, true, |m| {
        matches!(m, Message::CallStateChangedEvent(e)
            if e.call_id == call_id && e.state == CallState::Connected)
    })
    .await?;
    let connected_ms = started.elapsed().as_secs_f64() * 1e3;
    let dropping = Instant::now();
    client.drop_call(handle, call_id).await?;
    wait_for(
        client,
        call_id,
        false,
        |m| matches!(m, Message::CallEndedEvent(e) if e.call_id == call_id),
    )
    .await?;
    Ok(Sample {
        response_ms,
        connected_ms,
        ended_ms: dropping.elapsed().as_secs_f64() * 1e3,
    })
}

fn percentiles(name: &str, mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return format!("{name}: no samples");
    }
    values.sort_by(f64::total_cmp);
    let at =
        |p: f64| values[((values.len() as f64 * p).ceil() as usize).clamp(1, values.len()) - 1];
    format!(
        "{name}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50),
        at(0.90),
        at(0.99),
        values[values.len() - 1]
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut client = CtiClient::connect(Target::Plain(args.cti)).await?;
    client
        .open_provider(ProviderOptions::password(&args.login, &args.password))
        .await?;
    let opened = client.open_device(&args.device, ALL_DEVICE_EVENTS).await?;
    let handle = opened.device_handle;
    // The device's state events (in service) and the snapshot are not part of any call.
    while client.try_next_event().is_some() {}

    let mut samples = Vec::with_capacity(args.calls);
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..args.warmup + args.calls {
        match one_call(&mut client, handle, &args).await {
            Ok(sample) if i >= args.warmup => samples.push(sample),
            Ok(_) => {}
            Err(e) => {
                failures.push(format!("call {i}: {e}"));
                // Let a half-finished call settle before the next one.
                tokio::time::sleep(Duration::from_millis(500)).await;
                while client.try_next_event().is_some() {}
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    if let Some(path) = &args.samples {
        let mut text = String::from("response_ms,connected_ms,ended_ms\n");
        for s in &samples {
            text += &format!(
                "{:.3},{:.3},{:.3}\n",
                s.response_ms, s.connected_ms, s.ended_ms
            );
        }
        std::fs::write(path, text)?;
    }
    println!(
        "makecall: {} calls measured (+{} warm-up) in {wall:.1} s, {} failed",
        samples.len(),
        args.warmup,
        failures.len()
    );
    println!(
        "{}",
        percentiles(
            "MakeCallRequest -> MakeCallResponse",
            samples.iter().map(|s| s.response_ms).collect()
        )
    );
    println!(
        "{}",
        percentiles(
            "MakeCallRequest -> connected",
            samples.iter().map(|s| s.connected_ms).collect()
        )
    );
    println!(
        "{}",
        percentiles(
            "DropRequest -> CallEndedEvent",
            samples.iter().map(|s| s.ended_ms).collect()
        )
    );
    for failure in failures.iter().take(10) {
        println!("failure: {failure}");
    }
    client.shutdown().await;
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} calls failed", failures.len())
    }
}
