//! The table of known header names: canonical spelling, compact form, and whether the
//! header's grammar is a comma-separated list (so that its values may be split).

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

/// Longest spelling in the table, plus one.
const MAX_LEN: usize = 24;

/// Every spelling (long and compact) by length and first letter (lower-cased, 5 bits): a
/// bucket holds one or two entries, so a lookup is an index and a case-insensitive compare
/// or two, without hashing or copying — header names are looked up on every header of every
/// message.
type Index = Vec<Vec<(&'static str, &'static Known)>>;

fn bucket(len: usize, first: u8) -> usize {
    len * 32 + (first.to_ascii_lowercase() & 31) as usize
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut buckets: Index = vec![Vec::new(); MAX_LEN * 32];
        for k in KNOWN {
            for spelling in std::iter::once(k.name).chain(k.compact) {
                let b = bucket(spelling.len(), spelling.as_bytes()[0]);
                buckets[b].push((spelling, k));
            }
        }
        buckets
    })
}

fn find(name: &str) -> Option<&'static Known> {
    let first = *name.as_bytes().first()?;
    if name.len() >= MAX_LEN {
        return None;
    }
    index()
        .get(bucket(name.len(), first))?
        .iter()
        // Names are mostly sent (and always asked for) in canonical spelling: an exact
        // compare first, the case-insensitive one only when it fails.
        .find(|(spelling, _)| *spelling == name || spelling.eq_ignore_ascii_case(name))
        .map(|(_, k)| *k)
}

/// The canonical spelling of a known header name or compact form.
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    find(name).map(|k| k.name)
}

/// The canonical spelling of a known header name and whether it is a comma-list header, in
/// one lookup.
pub(crate) fn lookup(name: &str) -> Option<(&'static str, bool)> {
    find(name).map(|k| (k.name, k.list))
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
        let list = |n| lookup(n).is_some_and(|(_, l)| l);
        assert!(list("m") && !list("Date") && !list("WWW-Authenticate"));
    }

    #[test]
    fn every_spelling_is_found() {
        for k in KNOWN {
            assert!(k.name.len() < MAX_LEN, "{}", k.name);
            assert_eq!(canonical(&k.name.to_uppercase()), Some(k.name));
            if let Some(c) = k.compact {
                assert_eq!(canonical(c), Some(k.name));
            }
        }
        assert_eq!(canonical(""), None);
        assert_eq!(canonical("X-Some-Very-Long-Unknown-Header-Name"), None);
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
