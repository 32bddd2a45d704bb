//! Benchmark set-up for SIP OAuth (bearer REGISTER on 5090): provisions N users and N
//! softphones, each owned by its user, straight into a node's store, and mints one access
//! token per device, signed in-process with the node's own ES256 key (never through the
//! argon2-bound password grant). Also writes HS256 tokens for the same devices for Kamailio.
//!
//! `cargo run --release -p switchboard-server --example bench_bearer -- <data-dir> <count> <out-dir>`
//!
//! Start the node once on `<data-dir>` before (prepare.sh does), so that its signing key and
//! its node row (which gives the issuer) exist; the example opens the OAuth service on the same
//! store and takes issuer, audience and key from it, exactly as the node does.
//!
//! Users `bu000000001` …, softphones `CSF000000001` … (owner = the user), security profile
//! "Bench OAuth" (TLS, OAuth). `OAuthAccessTokenExpiryMinutes` is set to its maximum (1440)
//! and the tokens are valid for that long. Writes to `<out-dir>`:
//! * `bearer.csv`: `SEQUENTIAL`, then `device;<ES256 JWT>` (scope "sip cti", sub = owner,
//!   device = the softphone);
//! * `bearer-kamailio.csv`: `SEQUENTIAL`, then `device;<HS256 JWT>` in the form the team's
//!   Kamailio script checks (header exactly `{"alg":"HS256","typ":"JWT"}`, aud "ccmsipline",
//!   sub = the device, exp);
//! * `jwt.secret`: the random HS256 secret (64 hex characters, no newline).

use std::io::Write;
use std::sync::Arc;

use base64::Engine;
use switchboard_auth::secretbox::SecretKey;
use switchboard_server::NodeCrypto;
use switchboard_store::model::*;
use switchboard_store::{Store, StoreConfig};

const PROFILE: &str = "Bench OAuth";
const EXPIRY_MINUTES: i64 = 1440;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, count, out_dir] = args.as_slice() else {
        anyhow::bail!("usage: bench_bearer <data-dir> <count> <out-dir>");
    };
    let dir = std::path::PathBuf::from(dir);
    let out_dir = std::path::PathBuf::from(out_dir);
    let count: u64 = count.parse()?;
    let key = SecretKey::load_or_create(dir.join("secret.key"))?;
    let store = Store::open(
        &StoreConfig::Sqlite {
            path: dir.join("switchboard.db"),
        },
        Arc::new(NodeCrypto(key)),
    )
    .await?;
    store
        .set_param(
            "bench",
            "OAuthAccessTokenExpiryMinutes",
            &EXPIRY_MINUTES.to_string(),
        )
        .await?;
    let profile = SecurityProfile {
        name: PROFILE.into(),
        description: "benchmark softphones (SIP OAuth)".into(),
        product_type: "Cisco Unified Client Services Framework".into(),
        device_security_mode: SecurityMode::Encrypted,
        transport: Transport::Tls,
        tftp_encrypted_config: false,
        digest_auth: false,
        oauth_auth: true,
    };
    if store.get_profile(PROFILE).await.is_err() {
        store.put_profile("bench", &profile, false).await?;
    }

    // The node's issuer, audience and signing key, as the node itself loads them.
    let tracer =
        switchboard_trace::Tracer::open(switchboard_trace::TraceConfig::new(dir.join("traces")))?;
    let authenticator = switchboard_authn::Authenticator::new(store.clone(), tracer.clone());
    let oauth = switchboard_oauth::OAuthService::open(store.clone(), tracer, authenticator).await?;
    let issuer = oauth.issuer();
    let audience = oauth.audience();
    let keys = store.oauth_key_material().await?;
    let signer = keys
        .iter()
        .find(|k| k.retired_at.is_none() && k.private_key.is_some())
        .ok_or_else(|| anyhow::anyhow!("no usable signing key in {}", dir.display()))?;
    let encoding = switchboard_oauth::keys::encoding_key(signer.private_key.as_deref().unwrap())
        .ok_or_else(|| anyhow::anyhow!("the signing key does not parse"))?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(signer.kid.clone());

    let mut secret = [0u8; 32];
    getrandom(&mut secret)?;
    let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(out_dir.join("jwt.secret"), &secret)?;
    let hs_key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // Kamailio's script pins this exact header (jsonwebtoken would order it typ, alg).
    let hs_header = b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let exp = now + EXPIRY_MINUTES * 60;
    let existing_devices = store
        .list_devices()
        .await?
        .iter()
        .filter(|d| d.security_profile == PROFILE)
        .count() as u64;
    let mut es = std::io::BufWriter::new(std::fs::File::create(out_dir.join("bearer.csv"))?);
    let mut hs =
        std::io::BufWriter::new(std::fs::File::create(out_dir.join("bearer-kamailio.csv"))?);
    writeln!(es, "SEQUENTIAL")?;
    writeln!(hs, "SEQUENTIAL")?;
    let started = std::time::Instant::now();
    let mut created = 0u64;
    for i in 1..=count {
        let user = format!("bu{i:09}");
        let device = format!("CSF{i:09}");
        if i > existing_devices {
            if store.get_user(&user).await.is_err() {
                store
                    .create_user(
                        "bench",
                        &UserNew {
                            userid: user.clone(),
                            display_name: format!("Bench user {i}"),
                            cti_enabled: true,
                            ..UserNew {
                                enabled: true,
                                ..Default::default()
                            }
                        },
                    )
                    .await?;
            }
            store
                .create_device(
                    "bench",
                    &DeviceNew {
                        name: device.clone(),
                        description: String::new(),
                        product: "Cisco Unified Client Services Framework".into(),
                        device_class: DeviceClass::Softphone,
                        owner: Some(user.clone()),
                        security_profile: PROFILE.into(),
                        digest_user: None,
                        digest_password: None,
                        lines: Vec::new(),
                        allow_cti_control: true,
                    },
                )
                .await?;
            created += 1;
        }
        let claims = serde_json::json!({
            "iss": issuer, "sub": user, "aud": audience, "scope": "sip cti",
            "iat": now, "nbf": now, "exp": exp, "jti": format!("bench-{i}"),
            "client_id": "bench", "device": device,
        });
        let token = jsonwebtoken::encode(&header, &claims, &encoding)?;
        writeln!(es, "{device};{token}")?;

        let body = b64.encode(
            serde_json::json!({
                "iss": "https://as.ccm.test", "sub": device, "aud": "ccmsipline",
                "scope": "sip:register", "iat": now, "exp": exp,
            })
            .to_string(),
        );
        let message = format!("{hs_header}.{body}");
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &hs_key,
            jsonwebtoken::Algorithm::HS256,
        )?;
        writeln!(hs, "{device};{message}.{signature}")?;
    }
    es.flush()?;
    hs.flush()?;
    store.close().await;
    eprintln!(
        "{count} softphones ({created} new), tokens (iss {issuer}, aud {audience}, kid {}, exp +{EXPIRY_MINUTES} min) in {:.1} s",
        signer.kid,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Random bytes from the OS.
fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}
