//! Every rule an input must satisfy before it is written, in one place. Each failure names
//! the field and the rule (`StoreError::Invalid`), so the API and the CLI can show it as is.
//! Rules that need the database (an owner must exist, a profile must exist) are checked by
//! the write methods in the same transaction, with the same error type.

use crate::error::{Result, StoreError};
use crate::model::*;

/// Lowest and highest port a node may be given (004 "Configure as Portas OAuth").
pub const PORT_RANGE: std::ops::RangeInclusive<u32> = 1024..=49151;

/// The Active Directory user filter of SPEC §5; `{userid}` is replaced by the escaped userid.
pub const DEFAULT_LDAP_FILTER: &str = "(&(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))(sAMAccountName={userid}))";

const MAX_TEXT: usize = 200;

fn text(field: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_TEXT {
        return Err(StoreError::invalid(
            field,
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn identifier(field: &str, value: &str, max: usize, extra: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            field,
            format!("1 to {max} characters from A-Z a-z 0-9 and '{extra}'"),
        ))
    }
}

/// A userid: letters, digits and `._@+-`, 1 to 128 characters.
pub fn userid(field: &str, value: &str) -> Result<()> {
    identifier(field, value, 128, "._@+-")
}

/// A password given for a local user: 1 to 256 characters (the policy for strength is the
/// administrator's; an empty password is never accepted).
pub fn password(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > 256 {
        return Err(StoreError::invalid(field, "1 to 256 characters"));
    }
    Ok(())
}

/// A device name; deskphones are named `SEP` + their 12-digit MAC, as CUCM requires.
pub fn device_name(value: &str, class: DeviceClass) -> Result<()> {
    identifier("name", value, 50, "._-")?;
    if class == DeviceClass::Deskphone {
        let mac = value.strip_prefix("SEP").unwrap_or("");
        if mac.len() != 12
            || !mac
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_lowercase())
        {
            return Err(StoreError::invalid(
                "name",
                "a deskphone is named SEP followed by its 12-digit MAC in upper case, e.g. SEP001794625DE5",
            ));
        }
    }
    Ok(())
}

/// A directory number: digits, optionally led by `+`, and `*` / `#`, 1 to 24 characters.
pub fn dn(field: &str, value: &str) -> Result<()> {
    let body = value.strip_prefix('+').unwrap_or(value);
    let ok = !body.is_empty()
        && value.len() <= 24
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            field,
            "a directory number: digits, '*' and '#', optionally led by '+', at most 24 characters",
        ))
    }
}

pub fn user_new(u: &UserNew) -> Result<()> {
    userid("userid", &u.userid)?;
    text("display_name", &u.display_name)?;
    user_password(u.source, u.password.as_deref())?;
    for (i, d) in u.controlled_devices.iter().enumerate() {
        identifier(&format!("controlled_devices[{i}]"), d, 50, "._-")?;
    }
    Ok(())
}

pub fn user_patch(p: &UserPatch, current_source: UserSource) -> Result<()> {
    if let Some(name) = &p.display_name {
        text("display_name", name)?;
    }
    user_password(p.source.unwrap_or(current_source), p.password.as_deref())?;
    for (i, d) in p.controlled_devices.iter().flatten().enumerate() {
        identifier(&format!("controlled_devices[{i}]"), d, 50, "._-")?;
    }
    Ok(())
}

fn user_password(source: UserSource, password: Option<&str>) -> Result<()> {
    match (source, password) {
        (UserSource::Ldap, Some(_)) => Err(StoreError::invalid(
            "password",
            "an LDAP user's password lives in the directory; set source to local to give one",
        )),
        (_, Some(pw)) => self::password("password", pw),
        _ => Ok(()),
    }
}

pub fn profile(p: &SecurityProfile) -> Result<()> {
    identifier("name", &p.name, 100, " ._-")?;
    text("description", &p.description)?;
    if p.product_type.trim().is_empty() {
        return Err(StoreError::invalid("product_type", "must not be empty"));
    }
    text("product_type", &p.product_type)?;
    if p.oauth_auth && p.digest_auth {
        return Err(StoreError::invalid(
            "oauth_auth",
            "OAuth authentication cannot be combined with digest authentication (turn digest_auth off)",
        ));
    }
    if p.oauth_auth && p.tftp_encrypted_config {
        return Err(StoreError::invalid(
            "oauth_auth",
            "OAuth authentication cannot be combined with TFTP encrypted config (turn tftp_encrypted_config off)",
        ));
    }
    if p.oauth_auth && p.transport != Transport::Tls {
        return Err(StoreError::invalid(
            "transport",
            "a profile with OAuth authentication must use TLS (the OAuth ports are TLS)",
        ));
    }
    Ok(())
}

pub fn lines(lines: &[LineAppearance]) -> Result<()> {
    let mut seen_index = std::collections::HashSet::new();
    let mut seen_dn = std::collections::HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        if !(1..=64).contains(&l.index) {
            return Err(StoreError::invalid(
                format!("lines[{i}].index"),
                "between 1 and 64",
            ));
        }
        dn(&format!("lines[{i}].dn"), &l.dn)?;
        if !seen_index.insert(l.index) {
            return Err(StoreError::invalid(
                format!("lines[{i}].index"),
                "each button index once",
            ));
        }
        if !seen_dn.insert(&l.dn) {
            return Err(StoreError::invalid(
                format!("lines[{i}].dn"),
                "each line once per device",
            ));
        }
    }
    Ok(())
}

pub fn device_new(d: &DeviceNew) -> Result<()> {
    device_name(&d.name, d.device_class)?;
    text("description", &d.description)?;
    if d.product.trim().is_empty() {
        return Err(StoreError::invalid("product", "must not be empty"));
    }
    text("product", &d.product)?;
    if let Some(owner) = &d.owner {
        userid("owner", owner)?;
    }
    if let Some(user) = &d.digest_user {
        userid("digest_user", user)?;
    }
    if let Some(pw) = &d.digest_password {
        password("digest_password", pw)?;
    }
    lines(&d.lines)
}

pub fn device_patch(p: &DevicePatch) -> Result<()> {
    if let Some(v) = &p.description {
        text("description", v)?;
    }
    if let Some(v) = &p.product {
        if v.trim().is_empty() {
            return Err(StoreError::invalid("product", "must not be empty"));
        }
        text("product", v)?;
    }
    if p.owner.is_some() && p.clear_owner {
        return Err(StoreError::invalid(
            "clear_owner",
            "give either owner or clear_owner",
        ));
    }
    if let Some(owner) = &p.owner {
        userid("owner", owner)?;
    }
    if let Some(user) = &p.digest_user {
        userid("digest_user", user)?;
    }
    if let Some(pw) = &p.digest_password {
        password("digest_password", pw)?;
    }
    if let Some(l) = &p.lines {
        lines(l)?;
    }
    Ok(())
}

pub fn line(l: &Line) -> Result<()> {
    dn("dn", &l.dn)?;
    text("description", &l.description)?;
    text("alerting_name", &l.alerting_name)
}

/// A node: hostname-like name, an address, and eleven distinct ports in 1024–49151.
pub fn node(n: &Node) -> Result<()> {
    identifier("name", &n.name, 63, ".-")?;
    host("address", &n.address)?;
    text("description", &n.description)?;
    if !(1..=16).contains(&n.priority) {
        return Err(StoreError::invalid("priority", "between 1 and 16"));
    }
    ports(&n.ports)
}

pub fn ports(p: &NodePorts) -> Result<()> {
    let named = p.named();
    for (name, port) in named {
        if !PORT_RANGE.contains(&port) {
            return Err(StoreError::invalid(
                format!("ports.{name}"),
                format!("must be between 1024 and 49151, got {port}"),
            ));
        }
    }
    for (i, (name, port)) in named.iter().enumerate() {
        if let Some((other, _)) = named[..i].iter().find(|(_, p)| p == port) {
            return Err(StoreError::invalid(
                format!("ports.{name}"),
                format!("port {port} is already used by ports.{other}"),
            ));
        }
    }
    Ok(())
}

fn host(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:_[]".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(field, "a host name or IP address"))
    }
}

pub fn expressway(e: &ExpresswayNew) -> Result<()> {
    host("hostnameorip", &e.hostnameorip)?;
    text("description", &e.description)?;
    let names = e.x509subjectnameoraltname.split(',').map(str::trim);
    if e.x509subjectnameoraltname.len() > 4096 || names.clone().any(str::is_empty) {
        return Err(StoreError::invalid(
            "x509subjectnameoraltname",
            "a comma-separated list of non-empty certificate names (CN/SAN), at most 4096 characters",
        ));
    }
    text("x509subjectnameoraltname", &e.x509subjectnameoraltname)
}

pub fn ldap(s: &LdapSettings, service_password: Option<&str>) -> Result<()> {
    if s.servers.len() > 3 {
        return Err(StoreError::invalid("servers", "at most 3 servers"));
    }
    for (i, server) in s.servers.iter().enumerate() {
        host(&format!("servers[{i}].host"), &server.host)?;
        if !(1..=65535).contains(&server.port) {
            return Err(StoreError::invalid(
                format!("servers[{i}].port"),
                "between 1 and 65535",
            ));
        }
        if let Some(pem) = &server.ca_pem {
            if !pem.contains("-----BEGIN CERTIFICATE-----") || pem.len() > 65536 {
                return Err(StoreError::invalid(
                    format!("servers[{i}].ca_pem"),
                    "a PEM certificate (-----BEGIN CERTIFICATE-----), at most 64 KiB",
                ));
            }
        }
    }
    text("service_dn", &s.service_dn)?;
    if let Some(pw) = service_password {
        password("service_password", pw)?;
    }
    for (i, base) in s.search_bases.iter().enumerate() {
        if !base.contains('=') {
            return Err(StoreError::invalid(
                format!("search_bases[{i}]"),
                "a distinguished name such as OU=Users,DC=example,DC=com",
            ));
        }
        text(&format!("search_bases[{i}]"), base)?;
    }
    let f = &s.filter_template;
    let balanced = f.chars().try_fold(0i32, |depth, c| match c {
        '(' => Some(depth + 1),
        ')' if depth > 0 => Some(depth - 1),
        ')' => None,
        _ => Some(depth),
    }) == Some(0);
    if f.matches("{userid}").count() != 1 || !f.starts_with('(') || !balanced {
        return Err(StoreError::invalid(
            "filter_template",
            "an LDAP filter in parentheses containing {userid} exactly once",
        ));
    }
    identifier("userid_attribute", &s.userid_attribute, 64, "-")?;
    if s.enabled && (s.servers.is_empty() || s.search_bases.is_empty()) {
        return Err(StoreError::invalid(
            "enabled",
            "LDAP authentication needs at least one server and one search base",
        ));
    }
    Ok(())
}

/// An `https://` URL naming an OAuth issuer: at most 255 characters, a host, no whitespace,
/// query, fragment, user info or trailing `/` (issuers are compared as exact strings).
pub fn https_url(field: &str, value: &str) -> Result<()> {
    let rule = "an https:// URL of at most 255 characters without query, fragment, user info or trailing '/', e.g. https://ucm1.example.com:8443";
    let Some(rest) = value.strip_prefix("https://") else {
        return Err(StoreError::invalid(field, rule));
    };
    let host = rest.split('/').next().unwrap_or("");
    let ok = value.len() <= 255
        && !host.is_empty()
        && !value.ends_with('/')
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '@' | '\\'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(field, rule))
    }
}

/// An OAuth audience or client id: 1 to 128 characters from `A-Z a-z 0-9 . _ : / -`.
pub fn oauth_name(field: &str, value: &str) -> Result<()> {
    identifier(field, value, 128, "._:/-")
}

/// Largest JWKS accepted for an external issuer (bytes of JSON).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most keys in an external issuer's JWKS.
pub const MAX_JWKS_KEYS: usize = 20;

pub fn oauth_issuer(i: &OAuthIssuerNew) -> Result<()> {
    https_url("issuer", &i.issuer)?;
    oauth_name("audience", &i.audience)?;
    if i.jwks.to_string().len() > MAX_JWKS_BYTES {
        return Err(StoreError::invalid(
            "jwks",
            format!("at most {MAX_JWKS_BYTES} bytes of JSON"),
        ));
    }
    let keys = i.jwks.get("keys").and_then(|k| k.as_array());
    let Some(keys) = keys.filter(|k| (1..=MAX_JWKS_KEYS).contains(&k.len())) else {
        return Err(StoreError::invalid(
            "jwks",
            format!("a JSON Web Key Set: {{\"keys\": [...]}} with 1 to {MAX_JWKS_KEYS} keys"),
        ));
    };
    let mut kids = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        let Some(kid) = key.get("kid").and_then(|k| k.as_str()) else {
            return Err(StoreError::invalid(
                format!("jwks.keys[{n}].kid"),
                "every key needs a kid (tokens name their key by kid)",
            ));
        };
        if kid.is_empty() || kid.len() > 128 || kid.chars().any(char::is_control) {
            return Err(StoreError::invalid(
                format!("jwks.keys[{n}].kid"),
                "1 to 128 characters, no control characters",
            ));
        }
        if kids.contains(&kid) {
            return Err(StoreError::invalid(
                format!("jwks.keys[{n}].kid"),
                format!("kid '{kid}' appears twice"),
            ));
        }
        kids.push(kid);
    }
    Ok(())
}

pub fn oauth_client(c: &OAuthClient) -> Result<()> {
    oauth_name("client_id", &c.client_id)?;
    text("name", &c.name)?;
    if c.redirect_uris.len() > 20 {
        return Err(StoreError::invalid("redirect_uris", "at most 20 URIs"));
    }
    for (i, uri) in c.redirect_uris.iter().enumerate() {
        let field = format!("redirect_uris[{i}]");
        if uri.len() > 2048 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(StoreError::invalid(
                field,
                "at most 2048 characters, no whitespace",
            ));
        }
        if !(uri.starts_with("https://") || uri.starts_with("http://") || uri.contains(":/")) {
            return Err(StoreError::invalid(field, "an absolute URI"));
        }
    }
    Ok(())
}
