//! docs/formats.md, generated from the JSON Schemas of the types that write each format, so
//! the field lists cannot drift from the code: the test fails when the file differs, and
//! `UPDATE_DOCS=1 cargo test -p claims formats` rewrites it.

use schemars::schema_for;
use serde_json::Value;

const INTRO: &str = "\
# Formats, field by field

Generated from the types that write each file (`UPDATE_DOCS=1 cargo test -p claims formats`
rewrites this page; `cargo test` fails when it is stale). A field marked *optional* may be
absent; *or null* may be `null`. Nested fields are written `parent.child`, array elements
`parent[].child`.
";

/// The page: one section per format.
fn render() -> String {
    let formats = [
        (
            "report.json",
            "`target/claims/report.json`, written by `cargo claims` (both languages).",
            schema_for!(crate::report::Report),
        ),
        (
            "bench.json",
            "`target/claims/bench.json`, written by `cargo claims bench`, read by the report.",
            schema_for!(crate::bench::BenchFile),
        ),
        (
            "matrix.json",
            "`target/claims/matrix.json`, written by `cargo claims matrix`.",
            schema_for!(crate::matrix::Matrix),
        ),
        (
            "Evidence record",
            "One JSON line per fact a test proves, in `target/claims/evidence/<pid>.jsonl` \
             (`harness::record::Record`).",
            schema_for!(harness::record::Record),
        ),
    ];
    let mut md = String::from(INTRO);
    for (name, what, schema) in formats {
        let root = schema.as_value();
        md.push_str(&format!(
            "\n## {name}\n\n{what}\n\n| field | type | meaning |\n|---|---|---|\n"
        ));
        let mut rows = Vec::new();
        fields(root, root, "", &mut rows);
        for (path, ty, meaning) in rows {
            md.push_str(&format!("| `{path}` | {ty} | {meaning} |\n"));
        }
    }
    md
}

/// The definition a `$ref` points to, or the node itself.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &root["$defs"][name]
        }
        None => node,
    }
}

/// One row per property of `node` (an object schema), then its nested objects' rows.
fn fields(root: &Value, node: &Value, prefix: &str, rows: &mut Vec<(String, String, String)>) {
    let node = resolve(root, node);
    let Some(props) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = node["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in props {
        let path = format!("{prefix}{name}");
        let (ty, object) = type_of(root, prop);
        let ty = if required.contains(&name.as_str()) {
            ty
        } else {
            format!("{ty}, optional")
        };
        rows.push((path.clone(), ty, meaning(root, prop)));
        if let Some((object, array)) = object {
            let nested = format!("{path}{}.", if array { "[]" } else { "" });
            fields(root, object, &nested, rows);
        }
    }
}

/// A property's type in words, and the object schema its fields are under (with whether it
/// is an array's element).
fn type_of<'a>(root: &'a Value, prop: &'a Value) -> (String, Option<(&'a Value, bool)>) {
    if let Some(any) = prop.get("anyOf").and_then(Value::as_array) {
        let not_null: Vec<&Value> = any.iter().filter(|v| v["type"] != "null").collect();
        if let [only] = not_null[..] {
            let (ty, object) = type_of(root, only);
            return (format!("{ty} or null"), object);
        }
    }
    let node = resolve(root, prop);
    if let Some(values) = enum_values(node) {
        return (values, None);
    }
    let types: Vec<&str> = match &node["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let null = types.contains(&"null");
    let main = types
        .iter()
        .find(|t| **t != "null")
        .copied()
        .unwrap_or("any");
    let (ty, object) = match main {
        "array" => {
            let items = &node["items"];
            let (inner, object) = type_of(root, items);
            let object = object.map(|(o, _)| (o, true));
            (format!("array of {inner}"), object)
        }
        "object" if node.get("properties").is_some() => ("object".to_string(), Some((node, false))),
        "object" => ("object (any keys)".to_string(), None),
        "integer" if node["minimum"] == 0 => ("unsigned integer".to_string(), None),
        other => (other.to_string(), None),
    };
    if null {
        (format!("{ty} or null"), object)
    } else {
        (ty, object)
    }
}

/// `"a" \| "b"` for an enum of strings.
fn enum_values(node: &Value) -> Option<String> {
    let values: Vec<String> = if let Some(values) = node.get("enum").and_then(Value::as_array) {
        values.iter().map(Value::to_string).collect()
    } else {
        let mut values = Vec::new();
        for variant in node.get("oneOf")?.as_array()? {
            match (variant.get("const"), variant["enum"].as_array()) {
                (Some(value), _) => values.push(value.to_string()),
                (None, Some(more)) => values.extend(more.iter().map(Value::to_string)),
                (None, None) => return None,
            }
        }
        values
    };
    Some(values.join(" \\| "))
}

/// The doc comment of the field, else of its type; on one line, pipes escaped.
fn meaning(root: &Value, prop: &Value) -> String {
    let own = prop.get("description").and_then(Value::as_str);
    let of_type = || {
        let any: Vec<&Value> = prop["anyOf"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        any.into_iter()
            .chain([prop])
            .find_map(|v| resolve(root, v).get("description").and_then(Value::as_str))
    };
    own.or_else(of_type)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[test]
fn docs_formats_md_is_generated_from_the_types() {
    let path = harness::workspace_root().join("docs/formats.md");
    let fresh = render();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).expect("write docs/formats.md");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == fresh,
        "docs/formats.md is stale: run UPDATE_DOCS=1 cargo test -p claims formats"
    );
}
