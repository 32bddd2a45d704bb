//! Fuzzes the node's strict TOML configuration parser: never panics (parse and check), and the
//! configuration does not depend on how the TOML was spelt: whatever it accepts, read as a
//! plain TOML table, printed by `toml` and parsed again, gives an equal `NodeConfig` (and the
//! same verdict from `check`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchboard_server::NodeConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<NodeConfig>(text) else {
        return;
    };
    let checked = config.check().is_ok();
    let table: toml::Table = toml::from_str(text).expect("accepted config is a TOML table");
    let printed = toml::to_string(&table).expect("a TOML table prints");
    let again = toml::from_str::<NodeConfig>(&printed)
        .unwrap_or_else(|e| panic!("reprinted config refused: {e}\n{printed}"));
    assert_eq!(
        again, config,
        "config changed through a TOML round trip:\n{printed}"
    );
    assert_eq!(again.check().is_ok(), checked);
});
