//! The JSON Schemas in docs/cti-schema/ are generated from the types. This test fails when
//! the committed files differ from what the types generate; regenerate with
//! `UPDATE_CTI_SCHEMA=1 cargo test -p switchboard-cti-proto --test schemas`.

use std::path::PathBuf;

use switchboard_cti_proto::*;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/cti-schema")
}

#[test]
fn committed_schemas_match_the_types() {
    let update = std::env::var_os("UPDATE_CTI_SCHEMA").is_some();
    let schemas = Message::schemas();
    assert_eq!(schemas.len(), Message::NAMES.len());
    let mut stale = Vec::new();
    if update {
        std::fs::create_dir_all(dir()).unwrap();
    }
    for (name, schema) in &schemas {
        let path = dir().join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(schema).unwrap() + "\n";
        if update {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    // No leftover schema for a message that no longer exists.
    for entry in std::fs::read_dir(dir()).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let name = file.trim_end_matches(".json");
        assert!(Message::NAMES.contains(&name), "stale schema file {file}");
    }
    assert!(
        stale.is_empty(),
        "schemas out of date (UPDATE_CTI_SCHEMA=1 to regenerate): {stale:?}"
    );
}

#[test]
fn schemas_name_the_type_and_require_seq_where_due() {
    for (name, schema) in Message::schemas() {
        assert_eq!(schema["properties"]["type"]["const"], name);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(required.contains(&"type"));
        let has_seq = required.contains(&"seq");
        let request_or_response = name.ends_with("Request") || name.ends_with("Response");
        if name != "ErrorResponse" {
            assert_eq!(has_seq, request_or_response, "{name}");
        }
    }
}

fn doc_examples() -> Vec<serde_json::Value> {
    let doc = include_str!("../../../docs/cti-protocol.md");
    doc.split("```json\n")
        .skip(1)
        .map(|b| serde_json::from_str(b.split("```").next().unwrap()).unwrap())
        .collect()
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema = Message::schemas()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no schema for {name}"))
        .1;
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn doc_examples_validate_against_their_schema_and_no_other() {
    for example in doc_examples() {
        let name = example["type"].as_str().unwrap();
        let v = validator(name);
        let errors: Vec<String> = v.iter_errors(&example).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}\n{example}");
        for other in Message::NAMES.iter().filter(|n| **n != name) {
            assert!(
                !validator(other).is_valid(&example),
                "{name} example also valid as {other}"
            );
        }
    }
}

#[test]
fn schemas_refuse_what_the_types_refuse() {
    for example in doc_examples() {
        let name = example["type"].as_str().unwrap().to_owned();
        let v = validator(&name);
        // An unknown field.
        let mut extra = example.clone();
        extra["surprise"] = serde_json::json!(1);
        assert!(!v.is_valid(&extra), "{name} with an extra field");
        assert!(decode_message(extra.to_string().as_bytes()).is_err());
        // Every required field, removed in turn.
        for key in example.as_object().unwrap().keys() {
            let mut missing = example.clone();
            missing.as_object_mut().unwrap().remove(key);
            let schema_ok = v.is_valid(&missing);
            let types_ok = decode_message(missing.to_string().as_bytes())
                .map(|m| m.name() == name)
                .unwrap_or(false);
            assert_eq!(schema_ok, types_ok, "{name} without {key}");
        }
    }
    let v = validator("ErrorResponse");
    assert!(!v.is_valid(&serde_json::json!({
        "type": "ErrorResponse", "error": "NO_SUCH_ERROR", "message": ""
    })));
    let v = validator("ProviderOpenRequest");
    assert!(!v.is_valid(&serde_json::json!({
        "type": "ProviderOpenRequest", "seq": 1, "protocol_versions": [1], "login": "a",
        "auth": {"type": "kerberos"}, "application": "a", "client_version": "a",
        "heartbeat_s": 1, "timer_s": 1
    })));
}
