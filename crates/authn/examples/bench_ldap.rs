//! LDAP login benchmark against a real directory (bench/ldap/run.sh starts the test Samba AD):
//! the whole `Authenticator::authenticate` of an LDAP user (store lookup, pooled service
//! connection, search, user bind on its own connection), sequentially for p50/p99 latency, then
//! with `--concurrency` logins at once for logins per second; prints the service and user bind
//! counts to show that the service account binds once per pooled connection.
//!
//! `bench_ldap --server 127.0.0.1:3268:plain [--ca ca.pem] [--logins 1000] [--seconds 10]
//!  [--concurrency 32]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_authn::Authenticator;
use switchboard_store::model::{LdapServer, LdapSettingsPatch, LdapTls, UserNew, UserSource};
use switchboard_store::{Store, StoreConfig};
use switchboard_trace::{TraceConfig, Tracer};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let server = arg(&args, "--server").unwrap_or_else(|| "127.0.0.1:3268:plain".into());
    let logins: usize = arg(&args, "--logins").map_or(1000, |v| v.parse().unwrap());
    let seconds: u64 = arg(&args, "--seconds").map_or(10, |v| v.parse().unwrap());
    let concurrency: usize = arg(&args, "--concurrency").map_or(32, |v| v.parse().unwrap());
    let userid = arg(&args, "--user").unwrap_or_else(|| "wwhite".into());
    let password = arg(&args, "--password").unwrap_or_else(|| "Heisenberg-8".into());
    let ca = arg(&args, "--ca").map(|p| std::fs::read_to_string(p).expect("the CA file"));
    let mut parts = server.rsplitn(3, ':');
    let (tls, port, host) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let tls = match tls {
        "plain" => LdapTls::Plain,
        "ldaps" => LdapTls::Ldaps,
        "starttls" => LdapTls::Starttls,
        other => panic!("tls mode {other}"),
    };

    let dir = tempfile::tempdir().unwrap();
    let crypto =
        switchboard_authn::NodeCrypto(switchboard_auth::secretbox::SecretKey::from_bytes([9; 32]));
    let store = Store::open(
        &StoreConfig::Sqlite {
            path: dir.path().join("bench.db"),
        },
        Arc::new(crypto),
    )
    .await
    .unwrap();
    let tracer = Tracer::open(TraceConfig::new(dir.path().join("traces"))).unwrap();
    store
        .update_ldap(
            "bench",
            &LdapSettingsPatch {
                enabled: Some(true),
                servers: Some(vec![LdapServer {
                    host: host.into(),
                    port: port.parse().unwrap(),
                    tls,
                    ca_pem: ca,
                }]),
                service_dn: Some("Administrator@joshlab.net".into()),
                service_password: Some("Adm1n-Pass!".into()),
                search_bases: Some(vec!["OU=Breaking Bad,DC=joshlab,DC=net".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .create_user(
            "bench",
            &UserNew {
                userid: userid.clone(),
                source: UserSource::Ldap,
                enabled: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let auth = Authenticator::new(store, tracer);
    // Warm-up: the first login opens and binds the pooled connection.
    auth.authenticate(&userid, &password)
        .await
        .expect("the bench user must log in");

    let mut times = Vec::with_capacity(logins);
    for _ in 0..logins {
        let start = Instant::now();
        auth.authenticate(&userid, &password).await.unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let directory = auth.ldap_directory(false).await.unwrap().unwrap();
    println!(
        "sequential server={server} logins={logins} p50_ms={} p99_ms={} max_ms={} service_binds={} user_binds={}",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap()),
        directory.service_binds(),
        directory.user_binds()
    );

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (auth, userid, password) = (auth.clone(), userid.clone(), password.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            let mut failed = 0u64;
            while Instant::now() < deadline {
                let start = Instant::now();
                match auth.authenticate(&userid, &password).await {
                    Ok(_) => done.push(start.elapsed()),
                    Err(_) => failed += 1,
                }
            }
            (done, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (d, f) = t.await.unwrap();
        all.extend(d);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "concurrent server={server} concurrency={concurrency} seconds={seconds} logins={} failed={failed} logins_per_s={:.0} p50_ms={} p99_ms={} service_binds={} user_binds={}",
        all.len(),
        all.len() as f64 / elapsed,
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.99)),
        directory.service_binds(),
        directory.user_binds()
    );
}
