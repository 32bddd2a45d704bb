//! Fuzzes the node's strict TOML configuration parser: never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = toml::from_str::<switchboard_server::NodeConfig>(text) {
            let _ = config.check();
        }
    }
});
