//! Fuzzes the OAuth endpoints' form parser: never panics; what it accepts, encoded again,
//! parses to the same parameters; token requests and authorization requests built from any
//! input never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchboard_http::oauth::form::{authorization_request, parse_token_request, Form};

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse(data) {
        let mut again = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in form.fields() {
            again.append_pair(name, value);
        }
        let encoded = again.finish();
        let reparsed = Form::parse(encoded.as_bytes()).expect("re-encoded form parses");
        assert_eq!(reparsed.fields(), form.fields(), "form round trip");
        let _ = authorization_request(&form);
    }
    let _ = parse_token_request(data, None);
    let _ = parse_token_request(data, Some("jabber"));
});
