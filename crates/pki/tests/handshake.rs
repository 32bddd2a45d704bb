//! Real TLS handshakes over loopback TCP: server auth with the tomcat certificate and
//! mutual TLS against a tomcat-trust store.

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig};
use std::sync::Arc;
use std::time::Duration;
use switchboard_pki::{
    client_config_trusting, client_config_with_identity, crypto_provider, generate_test_ca,
    generate_tomcat, issue_leaf, server_config, trust_roots, ClientAuth, NodeIdentity, PkiError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// What each side saw: the client's error (if any), and the server's error or the number of
/// client certificates it received.
struct Outcome {
    client: Result<Option<Vec<u8>>, std::io::Error>,
    server: Result<usize, std::io::Error>,
}

/// Accepts one connection, answers "ping" with "pong"; the client connects, pings and reads.
async fn exchange(server: Arc<rustls::ServerConfig>, client: Arc<ClientConfig>) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = TlsAcceptor::from(server).accept(tcp).await?;
        let certs = tls.get_ref().1.peer_certificates().map_or(0, |c| c.len());
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        Ok::<usize, std::io::Error>(certs)
    });
    let client_result = async {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = TlsConnector::from(client).connect(name, tcp).await?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        tls.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"pong");
        Ok(alpn)
    };
    let client = tokio::time::timeout(Duration::from_secs(10), client_result)
        .await
        .expect("client timed out");
    let server = tokio::time::timeout(Duration::from_secs(10), server_task)
        .await
        .expect("server timed out")
        .unwrap();
    Outcome { client, server }
}

fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn assert_alert(result: &Result<Option<Vec<u8>>, std::io::Error>, alert: AlertDescription) {
    let err = result.as_ref().expect_err("client should have failed");
    match rustls_error(err) {
        Some(rustls::Error::AlertReceived(got)) => assert_eq!(*got, alert, "{err}"),
        other => panic!("expected alert {alert:?}, got {other:?} ({err})"),
    }
}

fn tls12_client(trust: &[String], identity: &NodeIdentity) -> Arc<ClientConfig> {
    let cfg = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(trust_roots(trust).unwrap())
        .with_client_auth_cert(identity.cert_chain().unwrap(), identity.key_der().unwrap())
        .unwrap();
    Arc::new(cfg)
}

#[tokio::test]
async fn client_trusting_tomcat_connects_and_negotiates_alpn() {
    let tomcat = generate_tomcat("node1", &[]).unwrap();
    let server = server_config(&tomcat, &[], ClientAuth::None, &[b"h2", b"http/1.1"]).unwrap();
    let mut client =
        (*client_config_trusting(std::slice::from_ref(&tomcat.cert_pem)).unwrap()).clone();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let out = exchange(server, Arc::new(client)).await;
    assert_eq!(out.client.unwrap(), Some(b"http/1.1".to_vec()));
    assert_eq!(out.server.unwrap(), 0);
}

#[tokio::test]
async fn client_not_trusting_tomcat_fails() {
    let tomcat = generate_tomcat("node1", &[]).unwrap();
    let other = generate_tomcat("node2", &[]).unwrap();
    let server = server_config(&tomcat, &[], ClientAuth::None, &[]).unwrap();
    let out = exchange(
        server,
        client_config_trusting(std::slice::from_ref(&other.cert_pem)).unwrap(),
    )
    .await;
    let err = out.client.unwrap_err();
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(_))
        ),
        "{err}"
    );
    assert!(out.server.is_err());
}

#[tokio::test]
async fn mtls_required_accepts_trusted_ca_and_rejects_untrusted_ca() {
    let tomcat = generate_tomcat("node1", &[]).unwrap();
    let ca_a = generate_test_ca("CA A").unwrap();
    let ca_b = generate_test_ca("CA B").unwrap();
    let leaf_a = issue_leaf(&ca_a, "edge-a", &["edge-a.example.org".into()]).unwrap();
    let leaf_b = issue_leaf(&ca_b, "edge-b", &["edge-b.example.org".into()]).unwrap();
    let server = server_config(
        &tomcat,
        std::slice::from_ref(&ca_a.cert_pem),
        ClientAuth::Required,
        &[],
    )
    .unwrap();
    let trust = [tomcat.cert_pem.clone()];

    let ok = exchange(
        server.clone(),
        client_config_with_identity(&trust, &leaf_a).unwrap(),
    )
    .await;
    ok.client.unwrap();
    assert_eq!(ok.server.unwrap(), 1, "server saw the client certificate");

    // TLS 1.3: the client learns of the rejection via the server's fatal alert.
    let bad = exchange(
        server.clone(),
        client_config_with_identity(&trust, &leaf_b).unwrap(),
    )
    .await;
    assert_alert(&bad.client, AlertDescription::UnknownCA);
    let server_err = bad.server.unwrap_err();
    assert!(
        matches!(
            rustls_error(&server_err),
            Some(rustls::Error::InvalidCertificate(_))
        ),
        "{server_err}"
    );

    // TLS 1.2 is offered too and behaves the same.
    let ok12 = exchange(server.clone(), tls12_client(&trust, &leaf_a)).await;
    ok12.client.unwrap();
    let bad12 = exchange(server.clone(), tls12_client(&trust, &leaf_b)).await;
    assert_alert(&bad12.client, AlertDescription::UnknownCA);

    // No certificate at all is refused as well.
    let none = exchange(server, client_config_trusting(&trust).unwrap()).await;
    assert_alert(&none.client, AlertDescription::CertificateRequired);
}

#[tokio::test]
async fn mtls_optional_allows_anonymous_but_not_untrusted() {
    let tomcat = generate_tomcat("node1", &[]).unwrap();
    let ca_a = generate_test_ca("CA A").unwrap();
    let ca_b = generate_test_ca("CA B").unwrap();
    let server = server_config(
        &tomcat,
        std::slice::from_ref(&ca_a.cert_pem),
        ClientAuth::Optional,
        &[],
    )
    .unwrap();
    let trust = [tomcat.cert_pem.clone()];

    let anon = exchange(server.clone(), client_config_trusting(&trust).unwrap()).await;
    anon.client.unwrap();
    assert_eq!(anon.server.unwrap(), 0);

    let leaf_b = issue_leaf(&ca_b, "edge-b", &[]).unwrap();
    let bad = exchange(
        server,
        client_config_with_identity(&trust, &leaf_b).unwrap(),
    )
    .await;
    assert_alert(&bad.client, AlertDescription::UnknownCA);
}

#[test]
fn required_with_empty_trust_store_is_a_clear_error() {
    let tomcat = generate_tomcat("node1", &[]).unwrap();
    let err = server_config(&tomcat, &[], ClientAuth::Required, &[]).unwrap_err();
    assert!(matches!(err, PkiError::EmptyTrustStore));
    assert!(err.to_string().contains("tomcat-trust"), "{err}");
    // Optional with no anchors degrades to not asking for a certificate.
    assert!(server_config(&tomcat, &[], ClientAuth::Optional, &[]).is_ok());
    // A broken trust entry is named by position.
    let err = server_config(&tomcat, &["junk".into()], ClientAuth::Required, &[]).unwrap_err();
    assert!(
        matches!(err, PkiError::BadTrustAnchor { index: 0, .. }),
        "{err}"
    );
    assert!(matches!(
        client_config_trusting(&[]),
        Err(PkiError::NoTrustAnchors)
    ));
}
