//! Requests checked against the published OpenAPI specs in tests/specs/: Meta's send-message
//! request (`Message`), its media retrieval and download (parameters), and OpenAI's
//! `CreateChatCompletionRequest` and `CreateTranscriptionRequest`.
//!
//! OpenAPI's `allOf` of object schemas means "all these properties"; read as plain JSON Schema,
//! an `additionalProperties: false` in one branch refuses the others' properties, and Meta's
//! own examples fail. So `allOf` branches are merged into one object schema first.
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

fn specs_dir() -> PathBuf {
    crate::repo_root().join("tests/specs")
}

fn load(file: &str) -> Value {
    let text =
        std::fs::read_to_string(specs_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&widen_huge_integers(&text)).unwrap_or_else(|e| panic!("{file}: {e}"));
    to_json(yaml)
}

/// serde_yaml refuses integers beyond i64 (OpenAI's spec bounds `seed` with one): such a
/// scalar value becomes a float literal.
fn widen_huge_integers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line);
        if let Some((_, value)) = line.rsplit_once(": ") {
            let digits = value.trim().trim_start_matches('-');
            if digits.len() >= 19 && digits.bytes().all(|b| b.is_ascii_digit()) {
                out.push_str(".0");
            }
        }
        out.push('\n');
    }
    out
}

/// YAML to JSON; numbers neither i64 nor u64 become floats.
fn to_json(yaml: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    (
                        k.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{k:?}")),
                        to_json(v),
                    )
                })
                .collect(),
        ),
        Y::Tagged(tagged) => to_json(tagged.value),
    }
}

fn merge_all_of(node: &Value, schemas: &Map<String, Value>) -> Value {
    match node {
        Value::Array(items) => {
            Value::Array(items.iter().map(|n| merge_all_of(n, schemas)).collect())
        }
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), merge_all_of(v, schemas)))
                .collect();
            let Some(Value::Array(parts)) = out.remove("allOf") else {
                return Value::Object(out);
            };
            let mut properties = Map::new();
            let mut required: Vec<Value> = Vec::new();
            let mut closed = false;
            for part in parts {
                let part = match part.get("$ref").and_then(Value::as_str) {
                    Some(reference) => {
                        let name = reference.rsplit('/').next().unwrap();
                        merge_all_of(&schemas[name], schemas)
                    }
                    None => part,
                };
                if let Some(Value::Object(p)) = part.get("properties") {
                    properties.extend(p.clone());
                }
                if let Some(Value::Array(r)) = part.get("required") {
                    required.extend(
                        r.iter()
                            .filter(|x| !required.contains(x))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                }
                closed |= part.get("additionalProperties") == Some(&Value::Bool(false));
            }
            out.insert("type".into(), "object".into());
            out.insert("properties".into(), Value::Object(properties));
            out.insert("required".into(), Value::Array(required));
            if closed {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

pub struct Schema(jsonschema::Validator);

/// Fields Meta documents for sends that this copy of its spec lacks: `biz_opaque_callback_data`
/// (a string of at most 512 characters, echoed in the message's status webhooks: the Cloud
/// API's messages reference; the spec has it only for calls).
fn with_documented_fields(mut spec: Value) -> Value {
    if let Some(properties) = spec
        .pointer_mut("/components/schemas/BaseMessageProperties/properties")
        .and_then(Value::as_object_mut)
    {
        properties.insert(
            "biz_opaque_callback_data".into(),
            serde_json::json!({"type": "string", "maxLength": 512}),
        );
    }
    spec
}

impl Schema {
    fn build(file: &str, schema: &str) -> Schema {
        let spec = with_documented_fields(load(file));
        let schemas = spec["components"]["schemas"]
            .as_object()
            .expect("components.schemas")
            .clone();
        let components = merge_all_of(&spec["components"], &schemas);
        let root = serde_json::json!({"$ref": format!("#/components/schemas/{schema}"), "components": components});
        Schema(
            jsonschema::options()
                .should_validate_formats(false)
                .build(&root)
                .expect("a valid schema"),
        )
    }

    /// The first few violations, empty when the body conforms.
    pub fn violations(&self, body: &Value) -> Vec<String> {
        self.0
            .iter_errors(body)
            .take(3)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect()
    }
}

pub fn meta_send_message() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::build("meta-business-messaging-api_v23.0.yaml", "Message"))
}

pub fn openai_chat_completion_request() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::build("openai-openapi.yaml", "CreateChatCompletionRequest"))
}

/// The request body of OpenAI's embeddings.
pub fn openai_embedding_request() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::build("openai-openapi.yaml", "CreateEmbeddingRequest"))
}

/// The request body of OpenAI's audio transcription (multipart fields as a JSON object).
pub fn openai_transcription_request() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::build("openai-openapi.yaml", "CreateTranscriptionRequest"))
}

/// A body-less operation of a spec (a GET): the query and header parameters it declares.
pub struct Operation {
    name: String,
    /// (name, "query" or "header", required, a check of its value)
    parameters: Vec<(String, String, bool, jsonschema::Validator)>,
}

impl Operation {
    fn build(file: &str, path: &str, method: &str) -> Operation {
        let spec = load(file);
        let item = &spec["paths"][path];
        let declared = item["parameters"]
            .as_array()
            .into_iter()
            .chain(item[method]["parameters"].as_array())
            .flatten();
        let parameters = declared
            .map(|p| match p.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let name = reference.rsplit('/').next().unwrap();
                    spec["components"]["parameters"][name].clone()
                }
                None => p.clone(),
            })
            .filter(|p| p["in"] == "query" || p["in"] == "header")
            .map(|p| {
                let schema = p.get("schema").cloned().unwrap_or(Value::Bool(true));
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["in"].as_str().unwrap().to_string(),
                    p["required"] == true,
                    jsonschema::options()
                        .should_validate_formats(false)
                        .build(&schema)
                        .expect("a valid parameter schema"),
                )
            })
            .collect();
        Operation {
            name: format!("{} {path}", method.to_uppercase()),
            parameters,
        }
    }

    /// Where a request breaks the operation: a required parameter missing, a value its schema
    /// refuses, a query parameter the operation does not declare.
    pub fn violations(
        &self,
        query: &[(String, String)],
        headers: &axum::http::HeaderMap,
    ) -> Vec<String> {
        let mut found = Vec::new();
        for (name, location, required, check) in &self.parameters {
            let value = match location.as_str() {
                "query" => query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone()),
                _ => headers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            };
            match value {
                None if *required => {
                    found.push(format!("{}: {location} {name} is required", self.name))
                }
                Some(v) if !check.is_valid(&Value::String(v.clone())) => found.push(format!(
                    "{}: {location} {name} does not match its schema",
                    self.name
                )),
                _ => {}
            }
        }
        for (key, _) in query {
            if !self
                .parameters
                .iter()
                .any(|(name, location, ..)| name == key && location == "query")
            {
                found.push(format!(
                    "{}: query parameter {key} is not declared",
                    self.name
                ));
            }
        }
        found
    }
}

/// Meta's "Retrieve Media URL": GET /{Version}/{Media-ID}.
pub fn meta_retrieve_media() -> &'static Operation {
    static OPERATION: OnceLock<Operation> = OnceLock::new();
    OPERATION.get_or_init(|| {
        Operation::build(
            "meta-business-messaging-api_v23.0.yaml",
            "/{Version}/{Media-ID}",
            "get",
        )
    })
}

/// Meta's template list of a WhatsApp Business account: GET /{waba-id}/message_templates.
pub fn meta_list_templates() -> &'static Operation {
    static OPERATION: OnceLock<Operation> = OnceLock::new();
    OPERATION.get_or_init(|| {
        Operation::build(
            "meta-business-messaging-api_v23.0.yaml",
            "/{Version}/{WABA-ID}/message_templates",
            "get",
        )
    })
}

/// Meta's "Download Media": GET of the url Retrieve Media URL gave.
pub fn meta_download_media() -> &'static Operation {
    static OPERATION: OnceLock<Operation> = OnceLock::new();
    OPERATION.get_or_init(|| {
        Operation::build(
            "meta-business-messaging-api_v23.0.yaml",
            "/{Version}/{Media-URL}",
            "get",
        )
    })
}
