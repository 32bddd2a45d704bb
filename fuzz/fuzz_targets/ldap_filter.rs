//! Fuzzes the LDAP text work of `switchboard_authn::ldap::filter`: any userid escapes to a value
//! that unescapes back to it and holds no filter metacharacter; expanding a valid template
//! never unbalances it; the AD sub-code reader never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchboard_authn::ldap::filter::{
    check_template, escape_filter_value, expand_template, unescape_filter_value, AdSubcode,
};

const AD: &str = "(&(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))(sAMAccountName={userid}))";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let escaped = escape_filter_value(text);
    assert!(!escaped.contains(['*', '(', ')', '\0']));
    assert_eq!(unescape_filter_value(&escaped).as_deref(), Some(text));
    let _ = unescape_filter_value(text);
    let _ = AdSubcode::parse(text);
    let filter = expand_template(AD, text).expect("the AD filter is a valid template");
    assert_eq!(filter.matches('(').count(), filter.matches(')').count());
    // The text as a template: when it is accepted, a hostile userid adds no parenthesis.
    if check_template(text).is_ok() {
        let expanded = expand_template(text, "x)(uid=*").unwrap();
        for p in ['(', ')'] {
            assert_eq!(expanded.matches(p).count(), text.matches(p).count());
        }
    }
});
