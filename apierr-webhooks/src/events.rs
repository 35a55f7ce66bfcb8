//! Event types: what a platform announces, each with the JSON Schema of its `data` and an
//! example; and which of them an endpoint receives (its subscription).

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

/// The event type of a test message ([`Dispatcher::send_test`](crate::Dispatcher::send_test)).
pub const TEST_EVENT: &str = "webhook.test";

/// The event type of the warning sent to a partner's other endpoints when one of its
/// endpoints is one failed message short of being paused.
pub const FAILING_EVENT: &str = "webhook.endpoint.failing";

/// The longest event type name: room for a few dotted words, short enough to list many
/// in a subscription's column.
pub const MAX_EVENT_TYPE_LEN: usize = 64;

/// One kind of message a platform sends: its name (`account.created`), what it means, the
/// JSON Schema of its `data` and an example of that `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventType {
    /// Its name: dot-separated words of lower-case letters, digits and underscores, at
    /// least two words (`account.created`).
    pub name: String,
    /// What happened when it is sent, in a sentence.
    pub description: String,
    /// The JSON Schema (2020-12) of the message's `data`.
    pub schema: Value,
    /// An example of the message's `data`.
    pub example: Value,
}

/// Why an event type was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypeError {
    name: String,
    why: &'static str,
}

impl fmt::Display for EventTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event type {:?} {}", self.name, self.why)
    }
}

impl std::error::Error for EventTypeError {}

/// Whether `name` is a well-formed event type name (see [`EventType::name`]).
fn well_formed(name: &str) -> bool {
    name.len() <= MAX_EVENT_TYPE_LEN
        && name.split('.').count() >= 2
        && name.split('.').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

impl EventType {
    /// An event type; its name must be well formed (see [`EventType::name`]), and its
    /// schema a JSON object (or `true`).
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        schema: Value,
        example: Value,
    ) -> Result<EventType, EventTypeError> {
        let name = name.into();
        if !well_formed(&name) {
            return Err(EventTypeError {
                name,
                why: "is not dot-separated words of lower-case letters, digits and underscores, \
                      at most 64 characters",
            });
        }
        if !(schema.is_object() || schema == Value::Bool(true)) {
            return Err(EventTypeError {
                name,
                why: "has a schema that is not a JSON Schema object",
            });
        }
        Ok(EventType {
            name,
            description: description.into(),
            schema,
            example,
        })
    }

    /// The JSON Schema of a whole message body of this type, as Standard Webhooks
    /// suggests it and [`Outbox::enqueue`](crate::Outbox::enqueue) writes it: `type`
    /// (this name), `timestamp` (RFC 3339) and `data`.
    pub fn body_schema(&self) -> Value {
        json!({
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"type": "string", "const": self.name},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": self.schema,
            },
        })
    }

    /// An example of a whole message body of this type.
    pub fn body_example(&self) -> Value {
        json!({
            "type": self.name,
            "timestamp": "2026-01-01T00:00:00.000Z",
            "data": self.example,
        })
    }
}

/// The event types a platform sends: its own and the two the dispatcher sends itself
/// ([`TEST_EVENT`], [`FAILING_EVENT`]), in the order given, the dispatcher's last.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTypes {
    types: Vec<EventType>,
}

/// Why a subscription was refused: an unknown name, by its position in the list given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// The list names no event type (an endpoint that wants every type names none: its
    /// subscription is [`Subscription::All`]).
    Empty,
    /// The name at this position is no event type of the platform's.
    Unknown(usize, String),
}

impl fmt::Display for SubscriptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionError::Empty => {
                f.write_str("names no event type: leave the list out to receive every event type")
            }
            SubscriptionError::Unknown(_, name) => {
                write!(f, "{name:?} is not an event type this API sends")
            }
        }
    }
}

impl std::error::Error for SubscriptionError {}

impl EventTypes {
    /// The platform's event types, and after them the dispatcher's own. A name given
    /// twice, or one of the dispatcher's, is refused.
    pub fn new(own: Vec<EventType>) -> Result<EventTypes, EventTypeError> {
        let mut types = own;
        types.extend(dispatcher_types());
        for (i, t) in types.iter().enumerate() {
            if types[..i].iter().any(|u| u.name == t.name) {
                return Err(EventTypeError {
                    name: t.name.clone(),
                    why: "is declared twice (the dispatcher's own types are always declared)",
                });
            }
        }
        Ok(EventTypes { types })
    }

    /// Every event type.
    pub fn all(&self) -> &[EventType] {
        &self.types
    }

    /// The event type named `name`.
    pub fn get(&self, name: &str) -> Option<&EventType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The subscription to the types `names`: each must be one of these; the list is
    /// kept sorted, each name once.
    pub fn subscription<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<Subscription, SubscriptionError> {
        if names.is_empty() {
            return Err(SubscriptionError::Empty);
        }
        let mut only = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let name = name.as_ref();
            if self.get(name).is_none() {
                return Err(SubscriptionError::Unknown(i, name.to_owned()));
            }
            only.push(name.to_owned());
        }
        only.sort_unstable();
        only.dedup();
        Ok(Subscription::Only(only))
    }
}

/// The types the dispatcher sends whatever the platform's are.
fn dispatcher_types() -> [EventType; 2] {
    [
        EventType {
            name: TEST_EVENT.to_owned(),
            description: "A test message, sent when the partner asks for one: nothing happened."
                .to_owned(),
            schema: json!({
                "type": "object",
                "required": ["endpoint_id"],
                "properties": {
                    "endpoint_id": {"type": "string", "description": "The endpoint tested."},
                },
            }),
            example: json!({"endpoint_id": "ep_0123456789abcdef0123456789abcdef"}),
        },
        EventType {
            name: FAILING_EVENT.to_owned(),
            description: "One of the partner's endpoints is one failed message short of being \
                          paused (sent to its other endpoints, with the failure report)."
                .to_owned(),
            schema: json!({
                "type": "object",
                "required": ["endpoint_id", "report_id", "failure_run", "pause_after", "pauses_at"],
                "properties": {
                    "endpoint_id": {"type": "string", "description": "The failing endpoint."},
                    "report_id": {"type": "string", "description": "The warning's failure report."},
                    "failure_run": {"type": "integer", "description": "Messages in a row that failed."},
                    "pause_after": {"type": "integer", "description": "The run at which the endpoint is paused."},
                    "pauses_at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "The earliest time the next failed message can pause it, RFC 3339.",
                    },
                },
            }),
            example: json!({
                "endpoint_id": "ep_0123456789abcdef0123456789abcdef",
                "report_id": "rpt_0123456789abcdef0123456789abcdef",
                "failure_run": 4,
                "pause_after": 5,
                "pauses_at": "2026-01-01T00:01:00.000Z",
            }),
        },
    ]
}

/// Which event types an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Subscription {
    /// Every type, those declared later included.
    #[default]
    All,
    /// These types only (sorted, each once; see [`EventTypes::subscription`]).
    Only(Vec<String>),
}

impl Subscription {
    /// Whether a message of `event_type` is sent to the endpoint.
    pub fn includes(&self, event_type: &str) -> bool {
        match self {
            Subscription::All => true,
            Subscription::Only(types) => types.iter().any(|t| t == event_type),
        }
    }

    /// The types, or `None` for every type.
    pub fn types(&self) -> Option<&[String]> {
        match self {
            Subscription::All => None,
            Subscription::Only(types) => Some(types),
        }
    }

    /// The column: `NULL` for every type, else each name between commas (`,a,b,`), so
    /// that the fan-out finds a name with one `LIKE` (see [`like_pattern`]).
    pub(crate) fn to_column(&self) -> Option<String> {
        self.types().map(|types| format!(",{},", types.join(",")))
    }

    pub(crate) fn from_column(text: Option<&str>) -> Subscription {
        match text {
            None => Subscription::All,
            Some(text) => Subscription::Only(
                text.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        }
    }
}

/// The `LIKE` pattern (with `\` as its escape) that finds `event_type` in a subscription's
/// column. The name's `_` and `%` are escaped: an application may enqueue any name, and
/// `payment_failed` must not match `paymentXfailed`.
pub(crate) fn like_pattern(event_type: &str) -> String {
    let mut pattern = String::with_capacity(event_type.len() + 4);
    pattern.push_str("%,");
    for c in event_type.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(",%");
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dotted_lower_case_words() {
        // Scenario: the names a catalog takes and refuses.
        for good in [
            "account.created",
            "a.b.c",
            "invoice.payment_failed",
            "v2.x1",
        ] {
            assert!(well_formed(good), "{good}");
        }
        let long = format!("a.{}", "b".repeat(MAX_EVENT_TYPE_LEN));
        for bad in [
            "account",
            "Account.created",
            "account.",
            ".x",
            "a..b",
            "a.1b",
            "a,b.c",
            "a.b%",
            &long,
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn a_catalog_refuses_twins_and_checks_subscriptions() {
        // Scenario: the dispatcher's types are always there, a twin is refused, and a
        // subscription names known types only, sorted and once each.
        let t = |n: &str| EventType::new(n, "d", json!({"type": "object"}), json!({})).unwrap();
        let types = EventTypes::new(vec![t("b.one"), t("a.one")]).unwrap();
        assert_eq!(types.all().len(), 4);
        assert!(types.get(TEST_EVENT).is_some());
        assert!(EventTypes::new(vec![t("a.one"), t("a.one")]).is_err());
        assert!(EventTypes::new(vec![t(TEST_EVENT)]).is_err());
        assert_eq!(
            types.subscription(&["b.one", "a.one", "b.one"]).unwrap(),
            Subscription::Only(vec!["a.one".into(), "b.one".into()])
        );
        assert_eq!(
            types.subscription(&["a.one", "c.one"]),
            Err(SubscriptionError::Unknown(1, "c.one".into()))
        );
        assert_eq!(
            types.subscription::<&str>(&[]),
            Err(SubscriptionError::Empty)
        );
        assert!(EventType::new("a.b", "d", json!(1), json!({})).is_err());
    }

    #[test]
    fn the_column_and_its_pattern_find_exactly_the_name() {
        // Scenario: a subscription stored and read back; its pattern escapes LIKE's
        // wildcards.
        let s = Subscription::Only(vec!["a.b_c".into(), "d.e".into()]);
        assert_eq!(s.to_column().as_deref(), Some(",a.b_c,d.e,"));
        assert_eq!(Subscription::from_column(s.to_column().as_deref()), s);
        assert_eq!(Subscription::from_column(None), Subscription::All);
        assert_eq!(like_pattern("a.b_c"), "%,a.b\\_c,%");
        assert_eq!(like_pattern("x%\\"), "%,x\\%\\\\,%");
        assert!(s.includes("d.e") && !s.includes("a.bxc"));
    }
}
