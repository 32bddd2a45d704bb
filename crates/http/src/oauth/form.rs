//! `application/x-www-form-urlencoded` bodies and query strings of the OAuth endpoints, parsed
//! strictly into typed requests: bounded size and count, UTF-8 only, each parameter at most
//! once (RFC 6749 §3.1, §3.2), unknown parameters ignored. Fuzzed
//! (`fuzz/fuzz_targets/oauth_form.rs`).

use percent_encoding::percent_decode;
use switchboard_oauth::{
    AuthorizationRequest, CodeGrant, GrantError, GrantErrorCode, PasswordGrant, RefreshGrant,
};

/// Largest form body or query string accepted (bytes).
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Most parameters in one form.
pub const MAX_FIELDS: usize = 32;
/// Longest parameter value (bytes, decoded); a token may be a long JWT of another issuer.
pub const MAX_VALUE: usize = 8192;

/// Why a form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the form is larger than {MAX_FORM_BYTES} bytes")]
    TooLarge,
    #[error("the form has more than {MAX_FIELDS} parameters")]
    TooManyFields,
    #[error("parameter {0} is given more than once")]
    Repeated(String),
    #[error("parameter {0} is longer than {MAX_VALUE} bytes")]
    ValueTooLong(String),
    #[error("the form is not valid UTF-8 once percent-decoded")]
    NotUtf8,
}

impl FormError {
    /// The parameter at fault, if one is.
    pub fn field(&self) -> Option<String> {
        match self {
            FormError::Repeated(f) | FormError::ValueTooLong(f) => Some(f.clone()),
            _ => None,
        }
    }
}

impl From<FormError> for GrantError {
    fn from(e: FormError) -> GrantError {
        GrantError::new(GrantErrorCode::InvalidRequest, e.to_string())
    }
}

/// A parsed form: each name once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| FormError::NotUtf8)
}

/// At most 40 printable characters of a parameter name, for error texts.
fn shown(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(40).collect()
}

impl Form {
    /// Parses a form body or a query string.
    pub fn parse(input: &[u8]) -> Result<Form, FormError> {
        if input.len() > MAX_FORM_BYTES {
            return Err(FormError::TooLarge);
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if fields.len() == MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[..0]),
            };
            let (name, value) = (decode(name)?, decode(value)?);
            if value.len() > MAX_VALUE {
                return Err(FormError::ValueTooLong(shown(&name)));
            }
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Repeated(shown(&name)));
            }
            fields.push((name, value));
        }
        Ok(Form { fields })
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every parameter, in the order received.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    fn required(&self, name: &'static str) -> Result<String, GrantError> {
        self.owned(name)
            .ok_or_else(|| GrantError::invalid_request(name, format!("{name} is required")))
    }
}

/// A token request (RFC 6749 §4.1.3, §4.3.2, §6).
#[derive(Clone)]
pub enum TokenRequest {
    Password(PasswordGrant),
    AuthorizationCode(CodeGrant),
    RefreshToken(RefreshGrant),
}

impl TokenRequest {
    /// The `grant_type`.
    pub fn grant_type(&self) -> &'static str {
        match self {
            TokenRequest::Password(_) => "password",
            TokenRequest::AuthorizationCode(_) => "authorization_code",
            TokenRequest::RefreshToken(_) => "refresh_token",
        }
    }
}

/// Parses a token request body. `basic_client` is the client id of an `Authorization: Basic`
/// header with an empty secret, if the client sent one.
pub fn parse_token_request(
    body: &[u8],
    basic_client: Option<&str>,
) -> Result<TokenRequest, GrantError> {
    let form = Form::parse(body)?;
    let grant_type = form.required("grant_type")?;
    let client_id = match (form.get("client_id"), basic_client) {
        (Some(a), Some(b)) if a != b => {
            return Err(GrantError::invalid_request(
                "client_id",
                "client_id differs from the client of the Authorization header",
            ))
        }
        (Some(id), _) | (None, Some(id)) => id.to_owned(),
        (None, None) => {
            return Err(GrantError::invalid_request(
                "client_id",
                "client_id is required (every client is public: no secret)",
            ))
        }
    };
    Ok(match grant_type.as_str() {
        "password" => TokenRequest::Password(PasswordGrant {
            client_id,
            username: form.required("username")?,
            password: form.required("password")?,
            scope: form.owned("scope"),
            device: form.owned("device"),
        }),
        "authorization_code" => TokenRequest::AuthorizationCode(CodeGrant {
            client_id,
            code: form.required("code")?,
            redirect_uri: form.required("redirect_uri")?,
            code_verifier: form.required("code_verifier")?,
        }),
        "refresh_token" => TokenRequest::RefreshToken(RefreshGrant {
            client_id,
            refresh_token: form.required("refresh_token")?,
            scope: form.owned("scope"),
        }),
        other => {
            return Err(GrantError::new(
                GrantErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported: use password, authorization_code or refresh_token",
                    shown(other)
                ),
            ))
        }
    })
}

/// The authorization endpoint's parameters, from a query string or a form.
pub fn authorization_request(form: &Form) -> AuthorizationRequest {
    AuthorizationRequest {
        response_type: form.owned("response_type"),
        client_id: form.owned("client_id"),
        redirect_uri: form.owned("redirect_uri"),
        scope: form.owned("scope"),
        state: form.owned("state"),
        code_challenge: form.owned("code_challenge"),
        code_challenge_method: form.owned("code_challenge_method"),
        device: form.owned("device"),
    }
}

/// A revocation or introspection request: `token` and its optional hint.
pub fn token_and_hint(body: &[u8]) -> Result<(Form, String), GrantError> {
    let form = Form::parse(body)?;
    let token = form.required("token")?;
    Ok((form, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        let form = Form::parse(b"a=x+y%2Bz&b=%C3%A9t%C3%A9&c&d=").unwrap();
        assert_eq!(form.get("a"), Some("x y+z"));
        assert_eq!(form.get("b"), Some("été"));
        assert_eq!(
            (form.get("c"), form.get("d"), form.get("e")),
            (None, None, None)
        );
        assert_eq!(Form::parse(b"").unwrap(), Form::default());
        assert_eq!(Form::parse(b"&&a=1&&").unwrap().get("a"), Some("1"));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Form::parse(b"a=1&a=2"),
            Err(FormError::Repeated("a".into()))
        );
        assert_eq!(Form::parse(b"a=%FF"), Err(FormError::NotUtf8));
        assert_eq!(
            Form::parse(&vec![b'a'; MAX_FORM_BYTES + 1]),
            Err(FormError::TooLarge)
        );
        let many: String = (0..=MAX_FIELDS).map(|i| format!("f{i}=1&")).collect();
        assert_eq!(Form::parse(many.as_bytes()), Err(FormError::TooManyFields));
        let long = format!("token={}", "a".repeat(MAX_VALUE + 1));
        assert_eq!(
            Form::parse(long.as_bytes()),
            Err(FormError::ValueTooLong("token".into()))
        );
    }

    #[test]
    fn token_requests() {
        let r = parse_token_request(
            b"grant_type=password&client_id=jabber&username=wwhite&password=p%26w&device=CSFwwhite",
            None,
        );
        match r {
            Ok(TokenRequest::Password(p)) => {
                assert_eq!(
                    (p.username.as_str(), p.password.as_str()),
                    ("wwhite", "p&w")
                );
                assert_eq!(p.device.as_deref(), Some("CSFwwhite"));
            }
            _ => panic!("not a password grant"),
        }
        let field = |body: &[u8]| parse_token_request(body, None).err().and_then(|e| e.field);
        assert_eq!(field(b"client_id=jabber"), Some("grant_type"));
        assert_eq!(
            field(b"grant_type=password&username=a&password=b"),
            Some("client_id")
        );
        assert_eq!(
            field(b"grant_type=password&client_id=j&password=b"),
            Some("username")
        );
        assert_eq!(
            field(b"grant_type=authorization_code&client_id=j&code=c&redirect_uri=r"),
            Some("code_verifier")
        );
        assert_eq!(
            field(b"grant_type=refresh_token&client_id=j"),
            Some("refresh_token")
        );
        let e = parse_token_request(b"grant_type=client_credentials&client_id=j", None)
            .err()
            .unwrap();
        assert_eq!(e.code, GrantErrorCode::UnsupportedGrantType);
        let e = parse_token_request(b"grant_type=password&grant_type=password", None)
            .err()
            .unwrap();
        assert_eq!(e.code, GrantErrorCode::InvalidRequest);
        // The client may come from an Authorization: Basic header.
        assert!(
            parse_token_request(b"grant_type=refresh_token&refresh_token=x", Some("jabber"))
                .is_ok()
        );
        assert_eq!(
            parse_token_request(
                b"grant_type=refresh_token&refresh_token=x&client_id=a",
                Some("b")
            )
            .err()
            .and_then(|e| e.field),
            Some("client_id")
        );
    }
}
