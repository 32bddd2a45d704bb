//! SIP request methods (case-sensitive tokens, RFC 3261 §7.1).

use std::fmt;

/// A request method. Unknown methods keep their token; methods are case-sensitive, so
/// `invite` is `Other("invite")`, not `Invite`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// REGISTER (RFC 3261).
    Register,
    /// INVITE (RFC 3261).
    Invite,
    /// ACK (RFC 3261).
    Ack,
    /// BYE (RFC 3261).
    Bye,
    /// CANCEL (RFC 3261).
    Cancel,
    /// OPTIONS (RFC 3261).
    Options,
    /// REFER (RFC 3515).
    Refer,
    /// NOTIFY (RFC 6665).
    Notify,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// INFO (RFC 6086).
    Info,
    /// MESSAGE (RFC 3428).
    Message,
    /// UPDATE (RFC 3311).
    Update,
    /// PRACK (RFC 3262).
    Prack,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other token.
    Other(String),
}

const NAMED: &[(Method, &str)] = &[
    (Method::Register, "REGISTER"),
    (Method::Invite, "INVITE"),
    (Method::Ack, "ACK"),
    (Method::Bye, "BYE"),
    (Method::Cancel, "CANCEL"),
    (Method::Options, "OPTIONS"),
    (Method::Refer, "REFER"),
    (Method::Notify, "NOTIFY"),
    (Method::Subscribe, "SUBSCRIBE"),
    (Method::Info, "INFO"),
    (Method::Message, "MESSAGE"),
    (Method::Update, "UPDATE"),
    (Method::Prack, "PRACK"),
    (Method::Publish, "PUBLISH"),
];

impl Method {
    /// The method for a token (the caller checks that it is a token).
    pub fn from_token(token: &str) -> Method {
        NAMED
            .iter()
            .find(|(_, s)| *s == token)
            .map(|(m, _)| m.clone())
            .unwrap_or_else(|| Method::Other(token.to_string()))
    }

    /// The method's token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(s) => s,
            known => NAMED
                .iter()
                .find(|(m, _)| m == known)
                .map(|(_, s)| *s)
                .unwrap_or(""),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_other() {
        for (m, s) in NAMED {
            assert_eq!(Method::from_token(s), *m);
            assert_eq!(m.as_str(), *s);
        }
        assert_eq!(Method::from_token("invite"), Method::Other("invite".into()));
        assert_eq!(Method::from_token("RE%47IST%45R").as_str(), "RE%47IST%45R");
    }
}
