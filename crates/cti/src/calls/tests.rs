//! The mirror driven by the real call model (`switchboard_callctl::Calls`), as the SIP
//! back-to-back user agent drives it.

use super::*;
use switchboard_callctl::Calls;
use tokio::sync::broadcast::Receiver;

fn drain(rx: &mut Receiver<CallEvent>, mirror: &mut CallMirror) -> Owed {
    let mut owed = Vec::new();
    while let Ok(e) = rx.try_recv() {
        owed.extend(mirror.apply(&e));
    }
    owed
}

fn for_device(owed: &Owed, device: &str) -> Vec<Notice> {
    owed.iter()
        .filter(|(d, _)| d == device)
        .map(|(_, n)| n.clone())
        .collect()
}

/// What the B2BUA does for an INVITE from A (1001) to 1002 ringing on `offered`.
fn ring(calls: &Calls, offered: &[&str]) -> Call {
    let call = calls.new_call("1001", Some("SEPA"), "1002");
    calls
        .transition(call.id, Side::Caller, LegState::Offering, None)
        .unwrap();
    let offered: Vec<String> = offered.iter().map(|d| d.to_string()).collect();
    calls.offer(call.id, Side::Callee, &offered).unwrap();
    calls
        .transition(call.id, Side::Callee, LegState::Offering, None)
        .unwrap();
    for side in [Side::Callee, Side::Caller] {
        calls
            .transition(call.id, side, LegState::Ringing, None)
            .unwrap();
    }
    call
}

fn answer(calls: &Calls, id: CallId, device: &str) {
    calls.set_device(id, Side::Callee, device).unwrap();
    for side in [Side::Callee, Side::Caller] {
        calls
            .transition(id, side, LegState::Connected, None)
            .unwrap();
    }
}

fn changed(call: &Call, side: Side, state: CallState, cause: Option<CallCause>) -> Notice {
    Notice::Changed {
        call: call.id,
        connection: call.leg(side).id,
        state,
        cause,
    }
}

fn new(call: &Call, side: Side, state: CallState) -> Notice {
    Notice::New {
        call: call.id,
        connection: call.leg(side).id,
        dn: if side == Side::Caller { "1001" } else { "1002" }.into(),
        calling: "1001".into(),
        called: "1002".into(),
        role: if side == Side::Caller {
            CallRole::Originating
        } else {
            CallRole::Terminating
        },
        state,
    }
}

fn ended(call: &Call, side: Side, cause: CallCause) -> Notice {
    Notice::Ended {
        call: call.id,
        connection: call.leg(side).id,
        cause,
    }
}

#[test]
fn a_basic_call_is_told_to_each_side() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let call = ring(&calls, &["SEPB"]);
    answer(&calls, call.id, "SEPB");
    calls.disconnect(call.id, Cause::Normal).unwrap();
    let owed = drain(&mut rx, &mut mirror);
    assert_eq!(
        for_device(&owed, "SEPB"),
        vec![
            new(&call, Side::Callee, CallState::Offering),
            changed(&call, Side::Callee, CallState::Ringing, None),
            changed(&call, Side::Callee, CallState::Connected, None),
            changed(
                &call,
                Side::Callee,
                CallState::Disconnected,
                Some(CallCause::Normal)
            ),
            ended(&call, Side::Callee, CallCause::Normal),
        ]
    );
    assert_eq!(
        for_device(&owed, "SEPA"),
        vec![
            new(&call, Side::Caller, CallState::Offering),
            changed(&call, Side::Caller, CallState::Ringing, None),
            changed(&call, Side::Caller, CallState::Connected, None),
            changed(
                &call,
                Side::Caller,
                CallState::Disconnected,
                Some(CallCause::Normal)
            ),
            ended(&call, Side::Caller, CallCause::Normal),
        ]
    );
    assert_eq!(owed.len(), 10);
    assert_eq!(mirror.len(), 0);
}

#[test]
fn parallel_ringing_ends_the_others_when_one_answers() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let call = ring(&calls, &["SEPB", "CSFB"]);
    answer(&calls, call.id, "CSFB");
    let owed = drain(&mut rx, &mut mirror);
    assert_eq!(
        for_device(&owed, "SEPB"),
        vec![
            new(&call, Side::Callee, CallState::Offering),
            changed(&call, Side::Callee, CallState::Ringing, None),
            ended(&call, Side::Callee, CallCause::AnsweredElsewhere),
        ]
    );
    assert_eq!(
        for_device(&owed, "CSFB"),
        vec![
            new(&call, Side::Callee, CallState::Offering),
            changed(&call, Side::Callee, CallState::Ringing, None),
            changed(&call, Side::Callee, CallState::Connected, None),
        ]
    );
    // The device that lost hears nothing more.
    calls.disconnect(call.id, Cause::Normal).unwrap();
    let owed = drain(&mut rx, &mut mirror);
    assert!(for_device(&owed, "SEPB").is_empty());
    assert_eq!(for_device(&owed, "CSFB").len(), 2);
}

#[test]
fn a_refused_call_tells_the_caller_only() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let call = calls.new_call("1001", Some("SEPA"), "1002");
    calls
        .transition(call.id, Side::Caller, LegState::Offering, None)
        .unwrap();
    calls
        .offer(call.id, Side::Callee, &["SEPB".into()])
        .unwrap();
    calls.disconnect(call.id, Cause::Busy).unwrap();
    let owed = drain(&mut rx, &mut mirror);
    assert!(for_device(&owed, "SEPB").is_empty(), "{owed:?}");
    assert_eq!(
        for_device(&owed, "SEPA"),
        vec![
            new(&call, Side::Caller, CallState::Offering),
            changed(
                &call,
                Side::Caller,
                CallState::Disconnected,
                Some(CallCause::Busy)
            ),
            ended(&call, Side::Caller, CallCause::Busy),
        ]
    );
}

#[test]
fn hold_and_retrieve_are_told() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let call = ring(&calls, &["SEPB"]);
    answer(&calls, call.id, "SEPB");
    drain(&mut rx, &mut mirror);
    calls
        .transition(call.id, Side::Caller, LegState::Held, None)
        .unwrap();
    calls
        .transition(call.id, Side::Caller, LegState::Connected, None)
        .unwrap();
    let owed = drain(&mut rx, &mut mirror);
    assert_eq!(
        owed,
        vec![
            (
                "SEPA".to_string(),
                changed(&call, Side::Caller, CallState::Held, None)
            ),
            (
                "SEPA".to_string(),
                changed(&call, Side::Caller, CallState::Connected, None)
            ),
        ]
    );
}

#[test]
fn a_snapshot_gives_the_present_state_of_every_call_of_a_device() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let first = ring(&calls, &["SEPB"]);
    answer(&calls, first.id, "SEPB");
    let second = ring(&calls, &["SEPB", "CSFB"]);
    drain(&mut rx, &mut mirror);
    assert_eq!(
        mirror.snapshot("SEPB"),
        vec![
            new(&first, Side::Callee, CallState::Connected),
            new(&second, Side::Callee, CallState::Ringing),
        ]
    );
    assert_eq!(
        mirror.snapshot("SEPA"),
        vec![
            new(&first, Side::Caller, CallState::Connected),
            new(&second, Side::Caller, CallState::Ringing),
        ]
    );
    assert!(mirror.snapshot("SEPZ").is_empty());
}

#[test]
fn missed_events_are_made_good_from_the_live_calls() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let ended_call = ring(&calls, &["SEPB"]);
    let answered = ring(&calls, &["SEPB", "CSFB"]);
    let _ringing = ring(&calls, &["SEPC"]);
    drain(&mut rx, &mut mirror);
    // Missed: the first call ends, the second is answered on CSFB, the third goes on; a
    // fourth is placed.
    calls.disconnect(ended_call.id, Cause::Cancelled).unwrap();
    answer(&calls, answered.id, "CSFB");
    let fourth = ring(&calls, &["SEPD"]);
    let missed: Vec<CallEvent> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let owed = mirror.resync(&calls.list());
    assert_eq!(
        for_device(&owed, "SEPB"),
        vec![
            ended(&ended_call, Side::Callee, CallCause::Unknown),
            ended(&answered, Side::Callee, CallCause::AnsweredElsewhere),
        ]
    );
    assert_eq!(
        for_device(&owed, "CSFB"),
        vec![changed(&answered, Side::Callee, CallState::Connected, None)]
    );
    assert!(for_device(&owed, "SEPC").is_empty(), "{owed:?}");
    assert_eq!(
        for_device(&owed, "SEPD"),
        vec![new(&fourth, Side::Callee, CallState::Ringing)]
    );
    assert_eq!(mirror.len(), 3);
    // The events still queued after the lag are already reflected: they owe nothing more.
    let mut again = Vec::new();
    for e in &missed {
        again.extend(mirror.apply(e));
    }
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(mirror.len(), 3);
}

#[test]
fn long_numbers_are_cut() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let long = "9".repeat(10_000);
    let call = calls.new_call(&long, Some("SEPA"), "1002");
    calls
        .transition(call.id, Side::Caller, LegState::Offering, None)
        .unwrap();
    let owed = drain(&mut rx, &mut mirror);
    let Notice::New { calling, dn, .. } = &owed[0].1 else {
        panic!("{owed:?}")
    };
    assert_eq!((calling.len(), dn.len()), (MAX_TEXT, MAX_TEXT));
}

#[test]
fn a_redirected_call_ends_with_cause_redirected_on_the_device_it_alerted() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let call = ring(&calls, &["SEPB"]);
    // What the B2BUA does for call control's redirect to 1003 (ringing on SEPC).
    calls.redirect(call.id, Side::Callee, "1003").unwrap();
    calls
        .offer(call.id, Side::Callee, &["SEPC".to_string()])
        .unwrap();
    answer(&calls, call.id, "SEPC");
    let owed = drain(&mut rx, &mut mirror);
    assert_eq!(
        for_device(&owed, "SEPB"),
        vec![
            new(&call, Side::Callee, CallState::Offering),
            changed(&call, Side::Callee, CallState::Ringing, None),
            ended(&call, Side::Callee, CallCause::Redirected),
        ]
    );
    // The new device is told about the call on the number it was redirected to.
    let to_1003 = |state| Notice::New {
        call: call.id,
        connection: call.callee.id,
        dn: "1003".into(),
        calling: "1001".into(),
        called: "1003".into(),
        role: CallRole::Terminating,
        state,
    };
    assert_eq!(
        for_device(&owed, "SEPC"),
        vec![
            to_1003(CallState::Ringing),
            changed(&call, Side::Callee, CallState::Connected, None),
        ]
    );
    // The redirected device hears nothing more.
    calls.disconnect(call.id, Cause::Normal).unwrap();
    let owed = drain(&mut rx, &mut mirror);
    assert!(for_device(&owed, "SEPB").is_empty());
    assert_eq!(for_device(&owed, "SEPC").len(), 2);
}

#[test]
fn a_missed_redirect_is_made_good_with_cause_redirected() {
    let calls = Calls::new();
    let mut rx = calls.subscribe();
    let mut mirror = CallMirror::default();
    let call = ring(&calls, &["SEPB"]);
    drain(&mut rx, &mut mirror);
    calls.redirect(call.id, Side::Callee, "1003").unwrap();
    calls
        .offer(call.id, Side::Callee, &["SEPC".to_string()])
        .unwrap();
    let missed: Vec<CallEvent> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let owed = mirror.resync(&calls.list());
    assert_eq!(
        for_device(&owed, "SEPB"),
        vec![ended(&call, Side::Callee, CallCause::Redirected)]
    );
    assert_eq!(for_device(&owed, "SEPC").len(), 1, "{owed:?}");
    let mut again = Vec::new();
    for e in &missed {
        again.extend(mirror.apply(e));
    }
    assert!(again.is_empty(), "{again:?}");
}
