//! The pure text work of an LDAP login, no I/O (fuzzed by `fuzz/fuzz_targets/ldap_filter.rs`):
//! RFC 4515 escaping of a userid for a search filter, expansion of the configured filter
//! template, and reading Active Directory's sub-code out of the diagnostic message of a
//! result 49 (`80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data
//! 52e, v1db1`).

use std::fmt::Write;

/// The placeholder of a filter template that the escaped userid replaces.
pub const USERID_PLACEHOLDER: &str = "{userid}";

/// `value` escaped for use as an assertion value in a search filter (RFC 4515 §3): `*`, `(`,
/// `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`; everything else is kept (UTF-8
/// is valid in a filter string).
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => {
                let _ = write!(out, "\\{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape_filter_value`] for any RFC 4515 value: `\XX` pairs of hex digits
/// become bytes. `None` when an escape is malformed or the bytes are not UTF-8.
pub fn unescape_filter_value(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'*' | b'(' | b')' | 0 => return None,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Why a filter template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the filter template must contain {USERID_PLACEHOLDER} exactly once")]
    Placeholder,
    #[error("the filter template must be a parenthesised LDAP filter with balanced parentheses")]
    Unbalanced,
}

/// The search filter for `userid`: `template` with [`USERID_PLACEHOLDER`] replaced by the
/// escaped userid. The template is checked first, so that no userid can unbalance it.
pub fn expand_template(template: &str, userid: &str) -> Result<String, TemplateError> {
    check_template(template)?;
    Ok(template.replacen(USERID_PLACEHOLDER, &escape_filter_value(userid), 1))
}

/// Checks a filter template: one placeholder, parenthesised, balanced (escaped parentheses
/// `\28`/`\29` are plain text and do not count).
pub fn check_template(template: &str) -> Result<(), TemplateError> {
    if template.matches(USERID_PLACEHOLDER).count() != 1 {
        return Err(TemplateError::Placeholder);
    }
    if !(template.starts_with('(') && template.ends_with(')')) {
        return Err(TemplateError::Unbalanced);
    }
    let mut depth = 0usize;
    for c in template.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or(TemplateError::Unbalanced)?,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(TemplateError::Unbalanced);
    }
    Ok(())
}

/// Active Directory's reason for refusing a bind with result 49 (invalidCredentials), read
/// from the `data XXX` part of the diagnostic message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdSubcode {
    /// `525`: no such user.
    UserNotFound,
    /// `52e`: wrong password.
    WrongPassword,
    /// `530`: not permitted to log on at this time.
    InvalidLogonHours,
    /// `531`: not permitted to log on from this workstation.
    InvalidWorkstation,
    /// `532`: the password has expired.
    PasswordExpired,
    /// `533`: the account is disabled.
    AccountDisabled,
    /// `701`: the account has expired.
    AccountExpired,
    /// `773`: the user must change the password before logging on.
    PasswordMustChange,
    /// `775`: the account is locked out.
    AccountLockedOut,
}

impl AdSubcode {
    /// The sub-code in `diagnostic` (`… data 52e, v1db1`), `None` when there is none or it is
    /// not one of the known codes.
    pub fn parse(diagnostic: &str) -> Option<AdSubcode> {
        let at = diagnostic.find("data ")?;
        let code: String = diagnostic[at + 5..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        Some(match code.to_ascii_lowercase().as_str() {
            "525" => AdSubcode::UserNotFound,
            "52e" => AdSubcode::WrongPassword,
            "530" => AdSubcode::InvalidLogonHours,
            "531" => AdSubcode::InvalidWorkstation,
            "532" => AdSubcode::PasswordExpired,
            "533" => AdSubcode::AccountDisabled,
            "701" => AdSubcode::AccountExpired,
            "773" => AdSubcode::PasswordMustChange,
            "775" => AdSubcode::AccountLockedOut,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4515_escapes() {
        assert_eq!(escape_filter_value("wwhite"), "wwhite");
        assert_eq!(escape_filter_value("jesse(p)"), "jesse\\28p\\29");
        assert_eq!(escape_filter_value("*"), "\\2a");
        assert_eq!(escape_filter_value("a\\b"), "a\\5cb");
        assert_eq!(escape_filter_value("nul\0"), "nul\\00");
        assert_eq!(escape_filter_value("Lucía"), "Lucía");
        assert_eq!(
            escape_filter_value("x)(sAMAccountName=*"),
            "x\\29\\28sAMAccountName=\\2a"
        );
        for v in ["", "wwhite", "jesse(p)", "*)(|(a=*", "\\\\", "é\0ü"] {
            assert_eq!(
                unescape_filter_value(&escape_filter_value(v)).as_deref(),
                Some(v)
            );
        }
        assert_eq!(
            unescape_filter_value("\\4a\\65sse").as_deref(),
            Some("Jesse")
        );
        for bad in ["\\", "\\4", "\\zz", "a*", "(", "\\ff"] {
            assert_eq!(unescape_filter_value(bad), None, "{bad}");
        }
    }

    #[test]
    fn templates() {
        let ad = "(&(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))(sAMAccountName={userid}))";
        assert_eq!(
            expand_template(ad, "wwhite").unwrap(),
            "(&(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))(sAMAccountName=wwhite))"
        );
        assert_eq!(
            expand_template("(uid={userid})", "*)(uid=*").unwrap(),
            "(uid=\\2a\\29\\28uid=\\2a)"
        );
        assert_eq!(
            expand_template("(uid=x)", "a"),
            Err(TemplateError::Placeholder)
        );
        assert_eq!(
            expand_template("(a={userid})(b={userid})", "a"),
            Err(TemplateError::Placeholder)
        );
        for bad in [
            "uid={userid}",
            "((uid={userid})",
            "(uid={userid}))(",
            ")(uid={userid})(",
        ] {
            assert_eq!(
                expand_template(bad, "a"),
                Err(TemplateError::Unbalanced),
                "{bad}"
            );
        }
    }

    #[test]
    fn ad_subcodes() {
        let text = |code: &str| {
            format!("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {code}, v1db1")
        };
        for (code, sub) in [
            ("52e", AdSubcode::WrongPassword),
            ("52E", AdSubcode::WrongPassword),
            ("525", AdSubcode::UserNotFound),
            ("530", AdSubcode::InvalidLogonHours),
            ("531", AdSubcode::InvalidWorkstation),
            ("532", AdSubcode::PasswordExpired),
            ("533", AdSubcode::AccountDisabled),
            ("701", AdSubcode::AccountExpired),
            ("773", AdSubcode::PasswordMustChange),
            ("775", AdSubcode::AccountLockedOut),
        ] {
            assert_eq!(AdSubcode::parse(&text(code)), Some(sub), "{code}");
        }
        assert_eq!(AdSubcode::parse(&text("999")), None);
        assert_eq!(AdSubcode::parse("invalid credentials"), None);
        assert_eq!(AdSubcode::parse("data "), None);
        assert_eq!(AdSubcode::parse(""), None);
    }
}
