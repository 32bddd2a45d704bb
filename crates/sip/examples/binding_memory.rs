//! Heap bytes per live binding in the location service, counted by a global allocator (not
//! estimated from RSS, which also holds transient caches and freed-but-kept pages).
//!
//! Each binding comes from a REGISTER shaped like a Cisco softphone's (device-name, model and
//! `+sip.instance` Contact parameters), parsed by the real parser and applied by the real
//! `Location::update`. Also measures a refresh round (every binding refreshed once, as a
//! re-registration storm does), since refreshes leave expiry entries behind until they pop.
//!
//!     cargo run --release -p switchboard-sip --example binding_memory -- 100000

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use switchboard_sip::location::{ContactUpdate, Location, RegisterMeta, Transport};
use switchboard_sip_proto::{parse_message, ContactList};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn register(i: usize, cseq: u32) -> Vec<u8> {
    let device = format!("CSF{i:09}");
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/TLS 10.1.{a}.{b}:51778;branch=z9hG4bK{i}x{cseq};rport\r\n\
         From: <sip:{i}@127.0.0.1>;tag=f{i}\r\n\
         To: <sip:{i}@127.0.0.1>\r\n\
         Call-ID: 00505600-{i:08x}-0000abcd-1234@10.1.{a}.{b}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{uuid}@10.1.{a}.{b}:51778;transport=tls>;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-{i:012x}>\";+u.sip!devicename.ccm.cisco.com=\"{device}\";+u.sip!model.ccm.cisco.com=\"503\"\r\n\
         Expires: 3600\r\n\
         Content-Length: 0\r\n\r\n",
        a = (i >> 8) & 0xff,
        b = i & 0xff,
        uuid = format_args!("04984998-fe29-08c0-6d47-{i:012x}"),
    )
    .into_bytes()
}

fn apply(location: &mut Location, n: usize, cseq: u32, now: Instant) {
    for i in 0..n {
        let msg = parse_message(&register(i, cseq)).expect("a valid REGISTER");
        let ContactList::List(contacts) = msg.headers.contacts().expect("contacts") else {
            unreachable!()
        };
        let c = &contacts[0];
        let updates = [ContactUpdate {
            uri: c.name_addr.uri.to_string(),
            contact: c.to_string(),
            instance: c.instance.clone(),
            expires: 3600,
        }];
        let call_id = msg.headers.call_id().expect("call-id").to_string();
        let meta = RegisterMeta {
            call_id: &call_id,
            cseq,
            transport: Transport::Tls,
            source: SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 51778)),
            flow: Some(i as u64),
        };
        let device = c.device_name.clone().expect("device name");
        location
            .update(&device, &updates, &meta, now)
            .expect("applied");
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let now = Instant::now();
    let before = LIVE.load(Ordering::Relaxed);
    let mut location = Location::new(8);
    apply(&mut location, n, 1, now);
    let registered = LIVE.load(Ordering::Relaxed);
    assert_eq!(location.len(), n);
    apply(&mut location, n, 2, now);
    let refreshed = LIVE.load(Ordering::Relaxed);
    let per = |bytes: isize| bytes as f64 / n as f64;
    println!("bindings\t{n}");
    println!(
        "heap per binding after registering\t{:.0} B",
        per(registered - before)
    );
    println!(
        "heap per binding after one refresh round\t{:.0} B",
        per(refreshed - before)
    );
}
