//! The Contact header (RFC 3261 §20.10) with the parameters a registrar reads: `expires`,
//! `q`, `+sip.instance` / `reg-id` (RFC 5626) and Cisco's device name, model and user id.

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::header::expires::parse_delta_seconds;
use crate::header::name_addr::{parse_name_addr, NameAddr};
use crate::headers::Headers;
use crate::params::Params;

/// Cisco's device-name feature tag (`CSFrado`, `SEPC80084AA8743`).
pub const CISCO_DEVICE_NAME: &str = "+u.sip!devicename.ccm.cisco.com";
/// Cisco's model feature tag (`503` for Jabber, `621` for a 7821).
pub const CISCO_MODEL: &str = "+u.sip!model.ccm.cisco.com";
/// Cisco's user-id feature tag (Jabber through Expressway, MRA).
pub const CISCO_USER_ID: &str = "+u.sip!userid.ccm.cisco.com";

/// The Contact header's values.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactList {
    /// `Contact: *` (remove all bindings).
    Star,
    /// Zero or more contacts.
    List(Vec<Contact>),
}

/// One Contact value. The parameters stay in `name_addr.params` (all of them, raw, in
/// order) and print back from there; the other fields are read from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// Display name, URI and parameters.
    pub name_addr: NameAddr,
    /// The `expires` parameter.
    pub expires: Option<u32>,
    /// The `q` parameter (0.0–1.0).
    pub q: Option<f32>,
    /// `+sip.instance`, without its quotes and `<>` (`urn:uuid:…`).
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626).
    pub reg_id: Option<u32>,
    /// `+u.sip!devicename.ccm.cisco.com`, unquoted.
    pub device_name: Option<String>,
    /// `+u.sip!model.ccm.cisco.com`, unquoted.
    pub model: Option<String>,
    /// `+u.sip!userid.ccm.cisco.com`, unquoted.
    pub user_id: Option<String>,
}

impl Contact {
    /// Reads the typed fields from a name-addr's parameters.
    pub fn from_name_addr(name_addr: NameAddr) -> Result<Contact, ParseError> {
        contact_from(name_addr).map_err(|d| ParseErrorKind::header("Contact", d).into())
    }

    /// All parameters, raw, in order.
    pub fn params(&self) -> &Params {
        &self.name_addr.params
    }

    /// Sets the `expires` parameter (and the field).
    pub fn set_expires(&mut self, seconds: u32) {
        self.name_addr
            .params
            .set("expires", Some(&seconds.to_string()));
        self.expires = Some(seconds);
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name_addr.fmt(f)
    }
}

impl fmt::Display for ContactList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactList::Star => f.write_str("*"),
            ContactList::List(l) => {
                for (i, c) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    c.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}

fn parse_q(v: &str) -> Result<f32, &'static str> {
    let bad = "q is not a value between 0 and 1 with up to three decimals";
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let ok = matches!(int, "0" | "1")
        && frac.len() <= 3
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || frac.bytes().all(|b| b == b'0'));
    if !ok {
        return Err(bad);
    }
    v.parse().map_err(|_| bad)
}

fn contact_from(name_addr: NameAddr) -> Result<Contact, &'static str> {
    let p = &name_addr.params;
    let expires = p
        .find("expires")
        .map(|e| parse_delta_seconds(e.value.as_deref().unwrap_or("")))
        .transpose()?;
    let q = p
        .find("q")
        .map(|q| parse_q(q.value.as_deref().unwrap_or("")))
        .transpose()?;
    let reg_id = p
        .find("reg-id")
        .map(|r| {
            r.value
                .as_deref()
                .unwrap_or("")
                .parse::<u32>()
                .map_err(|_| "reg-id is not a number")
        })
        .transpose()?;
    let instance = p.get_unquoted("+sip.instance").map(|i| {
        i.strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .map(str::to_string)
            .unwrap_or(i)
    });
    Ok(Contact {
        expires,
        q,
        instance,
        reg_id,
        device_name: p.get_unquoted(CISCO_DEVICE_NAME),
        model: p.get_unquoted(CISCO_MODEL),
        user_id: p.get_unquoted(CISCO_USER_ID),
        name_addr,
    })
}

impl Headers {
    /// All Contact values (comma-separated values split). `*` must stand alone.
    pub fn contacts(&self) -> Result<ContactList, ParseError> {
        let values = self.get_all("Contact");
        let bad = |d| ParseError::from(ParseErrorKind::header("Contact", d));
        if values.contains(&"*") {
            return if values.len() == 1 {
                Ok(ContactList::Star)
            } else {
                Err(bad("'*' together with other contacts"))
            };
        }
        values
            .into_iter()
            .map(|v| parse_name_addr(v).and_then(contact_from).map_err(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(ContactList::List)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &str) -> Result<ContactList, ParseError> {
        let mut h = Headers::new();
        h.push("m", v);
        h.contacts()
    }

    #[test]
    fn cisco_jabber_contact() {
        let v = r#"<sip:a8ae9f92-4b07-a0d7-d701-29320aed1e2e@10.10.10.10:62162;transport=tls>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-882323451234>";+u.sip!devicename.ccm.cisco.com="CSFrado";+u.sip!model.ccm.cisco.com="503";video"#;
        let ContactList::List(l) = list(v).unwrap() else {
            panic!()
        };
        let c = &l[0];
        assert_eq!(c.device_name.as_deref(), Some("CSFrado"));
        assert_eq!(c.model.as_deref(), Some("503"));
        assert_eq!(
            c.instance.as_deref(),
            Some("urn:uuid:00000000-0000-0000-0000-882323451234")
        );
        assert!(c.params().contains("video"));
        assert_eq!(c.to_string(), v);
    }

    #[test]
    fn expires_q_star() {
        let ContactList::List(l) = list(
            "\"Q\" <sip:a@b> ; newparam = newvalue ; secondparam ; q = 0.33, <sip:c@d>;expires=60",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].q, Some(0.33));
        assert_eq!(l[1].expires, Some(60));
        assert_eq!(list("*").unwrap(), ContactList::Star);
        assert!(list("*, <sip:a@b>").is_err());
        assert!(list("<sip:a@b>;expires=280297596632815").is_err());
        assert!(list("<sip:a@b>;q=1.5").is_err());
        assert!(list("<sip:a@b>,").is_err());
        assert_eq!(
            Headers::new().contacts().unwrap(),
            ContactList::List(vec![])
        );
    }
}
