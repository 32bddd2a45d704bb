//! Fuzzes the API's JSON body parser on the provisioning inputs: never panics, and what it
//! accepts serialises, parses again, and serialises to the same JSON (nothing is lost or
//! changed on the way through the model types).
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchboard_http::extract::parse_json;
use switchboard_store::model::{DeviceNew, LdapSettingsPatch, NodePatch, UserNew};

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(data: &[u8]) {
    if let Ok(value) = parse_json::<T>(data) {
        let again = serde_json::to_vec(&value).expect("serialise");
        let reparsed = parse_json::<T>(&again).unwrap_or_else(|_| {
            panic!(
                "serialised value refused: {}",
                String::from_utf8_lossy(&again)
            )
        });
        assert_eq!(
            serde_json::to_vec(&reparsed).expect("serialise"),
            again,
            "JSON round trip"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<UserNew>(data);
    round_trip::<DeviceNew>(data);
    round_trip::<NodePatch>(data);
    round_trip::<LdapSettingsPatch>(data);
});
