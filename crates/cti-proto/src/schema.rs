//! JSON Schemas of the messages (generated with `schemars`; committed in `docs/cti-schema/`).

use serde_json::Value;

/// A message struct's schema with the `"type"` tag added as a required constant.
pub(crate) fn with_type_tag(name: &str, schema: schemars::Schema) -> Value {
    let mut v = schema.to_value();
    if let Some(obj) = v.as_object_mut() {
        let props = obj
            .entry("properties")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(props) = props.as_object_mut() {
            props.insert("type".into(), serde_json::json!({ "const": name }));
        }
        let req = obj
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(req) = req.as_array_mut() {
            req.insert(0, Value::String("type".into()));
        }
    }
    v
}
