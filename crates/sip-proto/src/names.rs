//! The table of known header names: canonical spelling, compact form, and whether the
//! header's grammar is a comma-separated list (so that its values may be split).

use std::collections::HashMap;
use std::sync::OnceLock;

/// One known header.
struct Known {
    name: &'static str,
    compact: Option<&'static str>,
    list: bool,
}

const fn h(name: &'static str, compact: Option<&'static str>, list: bool) -> Known {
    Known {
        name,
        compact,
        list,
    }
}

/// Known headers. Compact forms from RFC 3261 §7.3.3 and the IANA registry. `list` is
/// set only where the ABNF is `x *(COMMA x)` and a comma cannot occur unquoted inside an
/// element (so never for Date, the authentication headers or unknown headers).
const KNOWN: &[Known] = &[
    h("Accept", None, true),
    h("Accept-Contact", Some("a"), true),
    h("Accept-Encoding", None, true),
    h("Accept-Language", None, true),
    h("Alert-Info", None, true),
    h("Allow", None, true),
    h("Allow-Events", Some("u"), true),
    h("Authentication-Info", None, false),
    h("Authorization", None, false),
    h("Call-ID", Some("i"), false),
    h("Call-Info", None, true),
    h("Contact", Some("m"), true),
    h("Content-Disposition", None, false),
    h("Content-Encoding", Some("e"), true),
    h("Content-Language", None, true),
    h("Content-Length", Some("l"), false),
    h("Content-Type", Some("c"), false),
    h("CSeq", None, false),
    h("Date", None, false),
    h("Diversion", None, true),
    h("Error-Info", None, true),
    h("Event", Some("o"), false),
    h("Expires", None, false),
    h("From", Some("f"), false),
    h("History-Info", None, true),
    h("Identity", Some("y"), false),
    h("In-Reply-To", None, true),
    h("Max-Forwards", None, false),
    h("MIME-Version", None, false),
    h("Min-Expires", None, false),
    h("Min-SE", None, false),
    h("Organization", None, false),
    h("P-Asserted-Identity", None, true),
    h("P-Associated-URI", None, true),
    h("P-Preferred-Identity", None, true),
    h("Path", None, true),
    h("Priority", None, false),
    h("Privacy", None, false),
    h("Proxy-Authenticate", None, false),
    h("Proxy-Authorization", None, false),
    h("Proxy-Require", None, true),
    h("RAck", None, false),
    h("Reason", None, true),
    h("Record-Route", None, true),
    h("Refer-To", Some("r"), false),
    h("Referred-By", Some("b"), false),
    h("Reject-Contact", Some("j"), true),
    h("Remote-Party-ID", None, true),
    h("Replaces", None, false),
    h("Reply-To", None, false),
    h("Request-Disposition", Some("d"), true),
    h("Require", None, true),
    h("Retry-After", None, false),
    h("Route", None, true),
    h("RSeq", None, false),
    h("Security-Client", None, true),
    h("Security-Server", None, true),
    h("Security-Verify", None, true),
    h("Server", None, false),
    h("Service-Route", None, true),
    h("Session-Expires", Some("x"), false),
    h("Session-ID", None, false),
    h("SIP-ETag", None, false),
    h("SIP-If-Match", None, false),
    h("Subject", Some("s"), false),
    h("Subscription-State", None, false),
    h("Supported", Some("k"), true),
    h("Timestamp", None, false),
    h("To", Some("t"), false),
    h("Unsupported", None, true),
    h("User-Agent", None, false),
    h("Via", Some("v"), true),
    h("Warning", None, true),
    h("WWW-Authenticate", None, false),
];

/// Every spelling (long and compact), lower-cased, to its entry: built once, because header
/// names are looked up on every header of every message.
type Index = HashMap<Vec<u8>, &'static Known, foldhash::fast::RandomState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map = Index::default();
        for k in KNOWN {
            map.insert(k.name.to_ascii_lowercase().into_bytes(), k);
            if let Some(c) = k.compact {
                map.insert(c.to_ascii_lowercase().into_bytes(), k);
            }
        }
        map
    })
}

fn find(name: &str) -> Option<&'static Known> {
    let bytes = name.as_bytes();
    let mut lower = [0u8; 32];
    let key = lower.get_mut(..bytes.len())?;
    for (l, b) in key.iter_mut().zip(bytes) {
        *l = b.to_ascii_lowercase();
    }
    index().get(&*key).copied()
}

/// The canonical spelling of a known header name or compact form.
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    find(name).map(|k| k.name)
}

/// Whether `name` (any spelling) is a comma-list header.
pub(crate) fn is_list(name: &str) -> bool {
    find(name).is_some_and(|k| k.list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms_and_case() {
        assert_eq!(canonical("v"), Some("Via"));
        assert_eq!(canonical("MaX-fOrWaRdS"), Some("Max-Forwards"));
        assert_eq!(canonical("i"), Some("Call-ID"));
        assert_eq!(canonical("l"), Some("Content-Length"));
        assert_eq!(canonical("k"), Some("Supported"));
        assert_eq!(canonical("C%6Fntact"), None);
        assert!(is_list("m") && !is_list("Date") && !is_list("WWW-Authenticate"));
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, a) in KNOWN.iter().enumerate() {
            for b in KNOWN.iter().skip(i + 1) {
                assert!(!a.name.eq_ignore_ascii_case(b.name), "{}", a.name);
                if let (Some(x), Some(y)) = (a.compact, b.compact) {
                    assert_ne!(x, y, "{} / {}", a.name, b.name);
                }
            }
        }
    }
}
