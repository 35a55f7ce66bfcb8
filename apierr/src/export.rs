//! The catalog as data: every code each profile can send, with its status, meaning and
//! the members of the body it comes in, in a JSON document a tool can keep and compare
//! (`apierr catalog export`, `apierr catalog diff`, the error-handling plan).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Catalog, Code, Condition, Profile};

/// The version of the export's shape; a reader refuses one it does not know.
pub const EXPORT_VERSION: u32 = 1;

/// The catalogs of some profiles, as data.
///
/// ```
/// use apierr::{CatalogExport, Profile};
///
/// let export = CatalogExport::of(&[Profile::ERRORS_ARRAY]);
/// let profile = &export.profiles[0];
/// let not_found = profile.codes.iter().find(|c| c.conditions == ["not_found"]).unwrap();
/// assert_eq!((not_found.code.to_string().as_str(), not_found.status), ("3001", 404));
/// assert!(profile.body.iter().any(|m| m.path == "errors[].errorCode" && m.required));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogExport {
    /// [`EXPORT_VERSION`].
    pub apierr_catalog_export: u32,
    /// One per profile, in the order asked for.
    pub profiles: Vec<ProfileExport>,
}

/// One profile's contract: its wire format and every code it can send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileExport {
    /// The profile's name (`problem`, `errors-array`…).
    pub name: String,
    /// The dialect its errors are written in.
    pub dialect: String,
    /// The `Content-Type` of its error bodies.
    pub content_type: String,
    /// The catalog's name.
    pub catalog: String,
    /// Every code an error of this profile can carry ([`Catalog::documented`]).
    pub codes: Vec<CodeExport>,
    /// The members of an error body, from the dialect's JSON Schema.
    pub body: Vec<Member>,
}

/// One code of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeExport {
    /// The code, a number or text as the catalog has it.
    #[serde(with = "code_as_json")]
    pub code: Code,
    /// The HTTP status it is sent with.
    pub status: u16,
    /// The category (`content`, `auth`, `rate_limited`, `server`), which decides what a
    /// partner does about it.
    pub category: String,
    /// Its default message.
    pub message: String,
    /// What it means.
    pub description: String,
    /// Where it is documented, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_url: Option<String>,
    /// The code it refines, when it is a sub-code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_code_as_json"
    )]
    pub parent: Option<Code>,
    /// The framework conditions that raise it, by their general code (`not_found`).
    pub conditions: Vec<String>,
}

/// One member of an error body: its path (`error.code`, `errors[].errorCode`) and whether
/// every body of the format has it (within each item, for a member of an array's items).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    /// Dotted path; `[]` stands for each item of an array.
    pub path: String,
    /// Whether the schema requires it (and every member on its way).
    pub required: bool,
}

impl CatalogExport {
    /// The export of `profiles`.
    pub fn of(profiles: &[Profile]) -> Self {
        CatalogExport {
            apierr_catalog_export: EXPORT_VERSION,
            profiles: profiles.iter().map(ProfileExport::of).collect(),
        }
    }
}

impl ProfileExport {
    /// The export of one profile.
    pub fn of(profile: &Profile) -> Self {
        let catalog = profile.catalog();
        let dialect = profile.dialect();
        ProfileExport {
            name: profile.name().to_owned(),
            dialect: dialect.name().to_owned(),
            content_type: dialect
                .content_type()
                .to_str()
                .unwrap_or_default()
                .to_owned(),
            catalog: catalog.name().to_owned(),
            codes: catalog
                .documented()
                .into_iter()
                .map(|entry| CodeExport {
                    code: entry.code().clone(),
                    status: entry.status().as_u16(),
                    category: entry.category().as_str().to_owned(),
                    message: entry.message().to_owned(),
                    description: entry.description().to_owned(),
                    doc_url: entry.doc_url().map(str::to_owned),
                    parent: entry.parent().cloned(),
                    conditions: conditions_of(catalog, entry.code()),
                })
                .collect(),
            body: members(&dialect.error_schema(), &dialect.error_schema()),
        }
    }
}

/// The conditions `catalog` answers with `code`, by their general code.
fn conditions_of(catalog: &Catalog, code: &Code) -> Vec<String> {
    Condition::ALL
        .iter()
        .filter(|c| catalog.condition(**c).code() == code)
        .map(|c| c.default_code().to_owned())
        .collect()
}

/// Every member a JSON Schema gives an object, in path order: properties, array items,
/// and what `allOf` adds; `$ref`s into `root` (`#/…`) are followed, at most 16 deep so
/// that a recursive schema ends. Used on a dialect's schema and on an OpenAPI document's
/// error responses alike.
///
/// ```
/// use apierr::export::members;
/// use serde_json::json;
///
/// let schema = json!({"type": "object", "required": ["errors"], "properties": {
///     "errors": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
///     "$defs": {"item": {"required": ["code"], "properties": {"code": {}, "hint": {}}}}});
/// let paths: Vec<_> = members(&schema, &schema).into_iter()
///     .map(|m| format!("{}{}", m.path, if m.required { "!" } else { "" })).collect();
/// assert_eq!(paths, ["errors!", "errors[].code!", "errors[].hint"]);
/// ```
pub fn members(schema: &Value, root: &Value) -> Vec<Member> {
    let mut found = BTreeMap::new();
    walk(schema, root, "", true, 0, &mut found);
    found
        .into_iter()
        .map(|(path, required)| Member { path, required })
        .collect()
}

const MAX_DEPTH: usize = 16;

fn walk(
    schema: &Value,
    root: &Value,
    prefix: &str,
    required: bool,
    depth: usize,
    found: &mut BTreeMap<String, bool>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(schema, root);
    let Some(object) = schema.as_object() else {
        return;
    };
    let needed: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let path = match prefix {
                "" => name.clone(),
                _ => format!("{prefix}.{name}"),
            };
            let is_required = required && needed.contains(&name.as_str());
            let entry = found.entry(path.clone()).or_insert(false);
            *entry |= is_required;
            walk(property, root, &path, is_required, depth + 1, found);
        }
    }
    if let Some(items) = object.get("items") {
        let path = format!("{prefix}[]");
        walk(items, root, &path, required, depth + 1, found);
    }
    for part in object
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk(part, root, prefix, required, depth + 1, found);
    }
}

/// `schema`, or what its `$ref` into `root` points at (a JSON pointer after `#`,
/// followed through at most 16 references).
///
/// ```
/// use serde_json::json;
///
/// let doc = json!({"components": {"schemas": {"Error": {"type": "object"}}}});
/// let schema = json!({"$ref": "#/components/schemas/Error"});
/// assert_eq!(apierr::export::resolve(&schema, &doc), &json!({"type": "object"}));
/// ```
pub fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..MAX_DEPTH {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

/// A code in JSON as the catalog has it: a number, or text.
mod code_as_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::Code;

    pub(super) fn serialize<S: Serializer>(code: &Code, s: S) -> Result<S::Ok, S::Error> {
        code.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Numeric(u32),
            Text(String),
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Numeric(n) => Code::numeric(n),
            Wire::Text(t) => Code::owned(t),
        })
    }
}

mod opt_code_as_json {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Code;

    pub(super) fn serialize<S: Serializer>(code: &Option<Code>, s: S) -> Result<S::Ok, S::Error> {
        match code {
            Some(code) => super::code_as_json::serialize(code, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Code>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::code_as_json")] Code);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(code)| code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_reads_back_as_it_was_written() {
        // Scenario: every profile's export survives JSON both ways, numeric and text
        // codes alike.
        let export = CatalogExport::of(Profile::ALL);
        let json = serde_json::to_string(&export).unwrap();
        let back: CatalogExport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, export);
        assert!(json.contains(r#""code":3001"#));
        assert!(json.contains(r#""code":"not_found""#));
    }

    #[test]
    fn every_profile_lists_each_conditions_code_once() {
        // Scenario: each condition appears under exactly one code of each profile.
        for profile in CatalogExport::of(Profile::ALL).profiles {
            for condition in Condition::ALL {
                let holders = profile
                    .codes
                    .iter()
                    .filter(|c| c.conditions.iter().any(|n| n == condition.default_code()))
                    .count();
                assert_eq!(holders, 1, "{} {condition:?}", profile.name);
            }
        }
    }

    #[test]
    fn recursive_schemas_end() {
        // Scenario: a schema that refers to itself is walked to the depth bound, no
        // further.
        let schema = serde_json::json!({"properties": {"next": {"$ref": "#"}}});
        let found = members(&schema, &schema);
        assert!(!found.is_empty() && found.len() <= MAX_DEPTH + 1);
    }
}
