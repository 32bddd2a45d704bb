//! The four RFC 3261 §17 transaction machines under a virtual clock: retransmission
//! schedules, timeouts, absorbed retransmissions and cleanup timers, UDP vs TCP.

use std::time::{Duration, Instant};

use switchboard_sip_proto::transaction::{
    ClientInvite, ClientNonInvite, Event, Reliability, ServerInvite, ServerNonInvite, State,
    Timers, TransactionKey,
};
use switchboard_sip_proto::{parse_message, Message, Method};

const UDP: Reliability = Reliability::Unreliable;
const TCP: Reliability = Reliability::Reliable;

fn request(method: &str) -> Message {
    let t = format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKtx1\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: tx@127.0.0.1\r\n\
         CSeq: 7 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    parse_message(t.as_bytes()).unwrap()
}

fn response(req: &Message, code: u16) -> Message {
    Message::response_to(req, code, "X").with_to_tag("b1")
}

fn ms(t0: Instant, t: Instant) -> u64 {
    (t - t0).as_millis() as u64
}

/// Runs the machine's timers until it is idle; returns (time, what was sent) pairs.
macro_rules! drive {
    ($tx:expr, $t0:expr) => {{
        let mut sent = Vec::new();
        while let Some(t) = $tx.poll_timeout() {
            $tx.handle_timeout(t);
            while let Some(m) = $tx.poll_transmit() {
                sent.push((ms($t0, t), m));
            }
        }
        sent
    }};
}

#[test]
fn client_non_invite_udp_retransmits_then_times_out() {
    let t0 = Instant::now();
    let mut tx = ClientNonInvite::new(request("OPTIONS"), UDP, Timers::default(), t0);
    assert_eq!(tx.poll_transmit().unwrap().method(), Some(&Method::Options));
    let times: Vec<u64> = drive!(tx, t0).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        times,
        [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(tx.poll_event(), Some(Event::Timeout));
    assert!(tx.is_terminated());
}

#[test]
fn client_non_invite_tcp_never_retransmits() {
    let t0 = Instant::now();
    let mut tx = ClientNonInvite::new(request("REGISTER"), TCP, Timers::default(), t0);
    assert!(tx.poll_transmit().is_some());
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    assert!(drive!(tx, t0).is_empty());
    assert_eq!(tx.poll_event(), Some(Event::Timeout));
}

#[test]
fn client_non_invite_proceeding_completed_k() {
    let t0 = Instant::now();
    let req = request("REGISTER");
    let mut tx = ClientNonInvite::new(req.clone(), UDP, Timers::default(), t0);
    tx.poll_transmit();
    tx.handle_response(t0 + Duration::from_millis(100), response(&req, 100));
    assert_eq!(tx.state(), State::Proceeding);
    assert!(matches!(tx.poll_event(), Some(Event::Response(r)) if r.code() == Some(100)));
    // Timer E still first fires at T1, then every T2 in Proceeding.
    tx.handle_timeout(t0 + Duration::from_millis(500));
    assert!(tx.poll_transmit().is_some());
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(4500)));
    let t1 = t0 + Duration::from_secs(1);
    tx.handle_response(t1, response(&req, 200));
    assert_eq!(tx.state(), State::Completed);
    assert!(matches!(tx.poll_event(), Some(Event::Response(r)) if r.code() == Some(200)));
    tx.handle_response(t1, response(&req, 200));
    assert_eq!(tx.poll_event(), None, "retransmitted final absorbed");
    assert_eq!(
        tx.poll_timeout(),
        Some(t1 + Duration::from_secs(5)),
        "Timer K = T4"
    );
    tx.handle_timeout(t1 + Duration::from_secs(5));
    assert!(tx.is_terminated());

    let mut tx = ClientNonInvite::new(req.clone(), TCP, Timers::default(), t0);
    tx.handle_response(t0, response(&req, 401));
    assert!(tx.is_terminated(), "Timer K is zero on TCP");
}

#[test]
fn client_invite_timer_a_doubles_without_cap_and_b_times_out() {
    let t0 = Instant::now();
    let mut tx = ClientInvite::new(request("INVITE"), UDP, Timers::default(), t0);
    tx.poll_transmit();
    let times: Vec<u64> = drive!(tx, t0).into_iter().map(|(t, _)| t).collect();
    assert_eq!(times, [500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(tx.poll_event(), Some(Event::Timeout));
    let mut tcp = ClientInvite::new(request("INVITE"), TCP, Timers::default(), t0);
    tcp.poll_transmit();
    assert!(drive!(tcp, t0).is_empty());
    assert_eq!(tcp.poll_event(), Some(Event::Timeout));
}

#[test]
fn client_invite_acks_non_2xx_and_waits_timer_d() {
    let t0 = Instant::now();
    let req = request("INVITE");
    let mut tx = ClientInvite::new(req.clone(), UDP, Timers::default(), t0);
    tx.poll_transmit();
    tx.handle_response(t0, response(&req, 180));
    assert_eq!(tx.state(), State::Proceeding);
    assert_eq!(tx.poll_timeout(), None, "no A/B in Proceeding");
    tx.handle_response(t0, response(&req, 486));
    let ack = tx.poll_transmit().unwrap();
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.uri(), req.uri());
    assert_eq!(ack.headers.cseq().unwrap().to_string(), "7 ACK");
    assert_eq!(ack.headers.to().unwrap().tag(), Some("b1"));
    assert_eq!(ack.headers.get_all("Via"), req.headers.get_all("Via"));
    assert_eq!(
        TransactionKey::for_request(&ack).unwrap(),
        TransactionKey::for_request(&req).unwrap()
    );
    assert_eq!(
        tx.poll_event().and_then(|e| match e {
            Event::Response(r) => r.code(),
            _ => None,
        }),
        Some(180)
    );
    assert!(matches!(tx.poll_event(), Some(Event::Response(r)) if r.code() == Some(486)));
    tx.handle_response(t0, response(&req, 486));
    assert_eq!(
        tx.poll_transmit(),
        Some(ack),
        "ACK repeated for a retransmitted 486"
    );
    assert_eq!(tx.poll_event(), None);
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    drive!(tx, t0);
    assert!(tx.is_terminated());

    let mut tcp = ClientInvite::new(req.clone(), TCP, Timers::default(), t0);
    tcp.poll_transmit();
    tcp.handle_response(t0, response(&req, 503));
    assert!(tcp.poll_transmit().is_some() && tcp.is_terminated());
}

#[test]
fn client_invite_accepted_passes_2xx_until_timer_m() {
    let t0 = Instant::now();
    let req = request("INVITE");
    let mut tx = ClientInvite::new(req.clone(), UDP, Timers::default(), t0);
    tx.poll_transmit();
    tx.handle_response(t0, response(&req, 200));
    assert_eq!(tx.state(), State::Accepted);
    tx.handle_response(t0, response(&req, 200));
    assert!(matches!(tx.poll_event(), Some(Event::Response(_))));
    assert!(
        matches!(tx.poll_event(), Some(Event::Response(_))),
        "2xx retransmission passed up"
    );
    assert_eq!(
        tx.poll_transmit(),
        None,
        "no ACK from the transaction for a 2xx"
    );
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    drive!(tx, t0);
    assert!(tx.is_terminated());
    assert_eq!(tx.poll_event(), None);
}

#[test]
fn server_non_invite_absorbs_and_repeats() {
    let t0 = Instant::now();
    let req = request("REGISTER");
    let mut tx = ServerNonInvite::new(req.clone(), UDP, Timers::default(), t0);
    tx.handle_request(t0, req.clone());
    assert_eq!(
        tx.poll_transmit(),
        None,
        "retransmission absorbed in Trying"
    );
    let ok = response(&req, 200);
    tx.send_response(t0, ok.clone());
    assert_eq!(tx.poll_transmit(), Some(ok.clone()));
    assert_eq!(tx.state(), State::Completed);
    tx.handle_request(t0 + Duration::from_secs(1), req.clone());
    assert_eq!(tx.poll_transmit(), Some(ok.clone()), "last response resent");
    tx.send_response(t0, response(&req, 500));
    assert_eq!(tx.poll_transmit(), None, "second final response ignored");
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + Duration::from_secs(32)),
        "Timer J = 64*T1"
    );
    drive!(tx, t0);
    assert!(tx.is_terminated());

    let mut tcp = ServerNonInvite::new(req.clone(), TCP, Timers::default(), t0);
    tcp.send_response(t0, response(&req, 100));
    assert_eq!(tcp.state(), State::Proceeding);
    tcp.handle_request(t0, req.clone());
    assert_eq!(tcp.poll_transmit().and_then(|m| m.code()), Some(100));
    assert_eq!(tcp.poll_transmit().and_then(|m| m.code()), Some(100));
    tcp.send_response(t0, ok);
    assert!(tcp.is_terminated(), "Timer J is zero on TCP");
}

#[test]
fn server_invite_non_2xx_timer_g_h() {
    let t0 = Instant::now();
    let req = request("INVITE");
    let mut tx = ServerInvite::new(req.clone(), UDP, Timers::default(), t0);
    let trying = tx.poll_transmit().unwrap();
    assert_eq!(trying.code(), Some(100));
    assert_eq!(trying.headers.to().unwrap().tag(), None);
    tx.handle_request(t0, req.clone());
    assert_eq!(
        tx.poll_transmit(),
        Some(trying),
        "retransmitted INVITE gets the last provisional"
    );
    tx.send_response(t0, response(&req, 486));
    assert!(tx.poll_transmit().is_some());
    let times: Vec<u64> = drive!(tx, t0).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        times,
        [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(tx.poll_event(), Some(Event::Timeout), "Timer H: no ACK");
}

#[test]
fn server_invite_ack_confirms_and_timer_i() {
    let t0 = Instant::now();
    let req = request("INVITE");
    let mut tx = ServerInvite::new(req.clone(), UDP, Timers::default(), t0);
    tx.poll_transmit();
    tx.send_response(t0, response(&req, 404));
    tx.poll_transmit();
    let ack = switchboard_sip_proto::transaction::ack_for(&req, &response(&req, 404)).unwrap();
    let t1 = t0 + Duration::from_millis(200);
    tx.handle_request(t1, ack.clone());
    assert_eq!(tx.state(), State::Confirmed);
    tx.handle_request(t1, ack);
    tx.handle_request(t1, req.clone());
    assert_eq!(
        tx.poll_transmit(),
        None,
        "ACK and INVITE absorbed in Confirmed"
    );
    assert_eq!(
        tx.poll_timeout(),
        Some(t1 + Duration::from_secs(5)),
        "Timer I = T4"
    );
    drive!(tx, t0);
    assert!(tx.is_terminated());
    assert_eq!(tx.poll_event(), None);
}

#[test]
fn server_invite_2xx_retransmitted_until_ack() {
    let t0 = Instant::now();
    let req = request("INVITE");
    let mut tx = ServerInvite::new(req.clone(), UDP, Timers::default(), t0);
    tx.poll_transmit();
    let ok = response(&req, 200);
    tx.send_response(t0, ok.clone());
    assert_eq!(tx.state(), State::Accepted);
    assert_eq!(tx.poll_transmit(), Some(ok.clone()));
    tx.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(tx.poll_transmit(), Some(ok.clone()));
    tx.handle_request(t0, req.clone());
    assert_eq!(
        tx.poll_transmit(),
        None,
        "INVITE retransmission absorbed in Accepted"
    );
    let mut ack = request("ACK");
    ack.headers
        .set("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnew");
    tx.handle_request(t0 + Duration::from_secs(1), ack);
    assert!(matches!(tx.poll_event(), Some(Event::Ack(_))));
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + Duration::from_secs(32)),
        "only Timer L left"
    );
    drive!(tx, t0);
    assert!(tx.is_terminated());
    assert_eq!(tx.poll_event(), None, "ACK seen: no timeout");

    let mut lost = ServerInvite::new(req.clone(), UDP, Timers::default(), t0);
    lost.send_response(t0, ok);
    let sent = drive!(lost, t0);
    assert_eq!(sent.len(), 1 + 1 + 10, "100, 200 and ten retransmissions");
    assert_eq!(
        lost.poll_event(),
        Some(Event::Timeout),
        "no ACK before Timer L"
    );

    let mut tcp = ServerInvite::new(req.clone(), TCP, Timers::default(), t0);
    tcp.send_response(t0, response(&req, 200));
    assert_eq!(tcp.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    assert_eq!(drive!(tcp, t0).len(), 2);
}

#[test]
fn keys_match_responses_to_requests() {
    let req = request("INVITE");
    let resp = response(&req, 180);
    assert_eq!(
        TransactionKey::for_request(&req).unwrap(),
        TransactionKey::for_response(&resp).unwrap()
    );
    let bye = request("BYE");
    assert_ne!(
        TransactionKey::for_request(&req).unwrap(),
        TransactionKey::for_request(&bye).unwrap()
    );
}
