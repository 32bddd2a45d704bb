//! A TLS client relay for the registrar benchmark (`bench/register`, `RELAY=rust`): accepts
//! plain TCP connections (SIPp's: Debian's SIPp has no TLS) and carries each over its own TLS
//! connection to the server under test, like `stunnel` in client mode, but lighter: one
//! thread, one task per connection owning both sockets (no split streams), everything read
//! from one side written to the other in one TLS write.
//!
//! The server's certificate is not checked against a trust store (both servers of the
//! benchmark use the same self-signed node certificate), but its handshake signature is
//! verified, so a full handshake costs the client what a real one does.
//!
//!   tls_relay <listen addr> <upstream addr>
//!   cargo run --release -p switchboard-sip --example tls_relay -- 127.0.0.1:15061 127.0.0.1:5061

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

/// Accepts any certificate, checks the handshake signatures made with it.
#[derive(Debug)]
struct SignatureOnly(Arc<tokio_rustls::rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for SignatureOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, upstream] = args.as_slice() else {
        anyhow::bail!("usage: tls_relay <listen addr> <upstream addr>");
    };
    let listen: SocketAddr = listen.parse()?;
    let upstream: SocketAddr = upstream.parse()?;
    let provider = Arc::new(ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SignatureOnly(provider)))
        .with_no_client_auth();
    // Every connection a full handshake, as stunnel's `sessionResume = no`.
    config.resumption = tokio_rustls::rustls::client::Resumption::disabled();
    let connector = TlsConnector::from(Arc::new(config));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(listen).await?;
            loop {
                let (plain, _) = listener.accept().await?;
                let connector = connector.clone();
                tokio::spawn(async move {
                    if let Err(e) = relay(plain, upstream, connector).await {
                        eprintln!("relay: {e}");
                    }
                });
            }
        })
}

/// Carries one plain connection over one TLS connection until either side closes.
async fn relay(
    mut plain: TcpStream,
    upstream: SocketAddr,
    connector: TlsConnector,
) -> anyhow::Result<()> {
    plain.set_nodelay(true)?;
    let tcp = TcpStream::connect(upstream).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::IpAddress(upstream.ip().into());
    let mut tls = connector.connect(name, tcp).await?;
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            n = plain.read(&mut up) => {
                let n = n?;
                if n == 0 { break; }
                tls.write_all(&up[..n]).await?;
                tls.flush().await?;
            }
            n = tls.read(&mut down) => {
                let n = n?;
                if n == 0 { break; }
                plain.write_all(&down[..n]).await?;
            }
        }
    }
    let _ = tls.shutdown().await;
    Ok(())
}
