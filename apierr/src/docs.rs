//! Documentation generated from a catalog.

use std::fmt::Write;

use crate::{ApiError, Catalog, Condition, Dialect, Entry, FieldViolation};

impl Catalog {
    /// The catalog as a Markdown table (code, status, message, description, and the
    /// framework conditions that raise the code), followed by an example body for each code
    /// in `dialect`.
    ///
    /// ```
    /// use apierr::{ErrorsArray, seeds::SEED_003};
    ///
    /// let md = SEED_003.markdown(&ErrorsArray);
    /// assert!(md.contains("| 3001 | 404 | entity not found | Entity was not found. | not_found |"));
    /// assert!(md.contains(r#"{"errors":[{"errorCode":3001,"message":"entity not found"}]}"#));
    /// ```
    pub fn markdown(&self, dialect: &dyn Dialect) -> String {
        let mut md = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(md, "# Error codes: {}\n", self.name());
        let _ = writeln!(md, "Bodies are in the `{}` dialect.\n", dialect.name());
        md.push_str("| Code | Status | Message | Description | Raised for |\n");
        md.push_str("|---|---|---|---|---|\n");
        let documented = self.documented();
        for entry in &documented {
            let conditions: Vec<_> = Condition::ALL
                .iter()
                .filter(|c| self.condition(**c).code() == entry.code())
                .map(|c| c.default_code())
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                cell(&entry.code().to_string()),
                entry.status().as_u16(),
                cell(entry.message()),
                cell(entry.description()),
                conditions.join(", "),
            );
        }
        for entry in &documented {
            let mut body = Vec::new();
            dialect.write_body(&self.example(entry), &mut body);
            let _ = writeln!(
                md,
                "\n## {} {}\n\n```json\n{}\n```",
                entry.code(),
                entry.message(),
                String::from_utf8_lossy(&body),
            );
        }
        md
    }

    /// Every entry an error of this catalog can carry: the catalog's own, then the default
    /// of each condition it leaves unbound (the general catalog's text code, or the status
    /// as code), once per code. A partner reading the documentation finds every code a
    /// server speaking this catalog can send.
    ///
    /// ```
    /// use apierr::{Code, seeds::SEED_000};
    ///
    /// let codes: Vec<_> = SEED_000.documented().iter().map(|e| e.code().clone()).collect();
    /// assert!(codes.contains(&Code::text("not_found")));
    /// assert!(codes.contains(&Code::text("key_revoked")), "unbound, yet sent");
    /// ```
    pub fn documented(&self) -> Vec<&Entry> {
        let mut entries: Vec<&Entry> = self.entries().iter().collect();
        for condition in Condition::ALL {
            let entry = self.condition(*condition);
            if !entries.iter().any(|e| e.code() == entry.code()) {
                entries.push(entry);
            }
        }
        entries
    }

    /// Whether `code` is among [`Catalog::documented`]'s.
    pub fn documents(&self, code: &crate::Code) -> bool {
        self.entries().iter().any(|e| e.code() == code)
            || Condition::ALL
                .iter()
                .any(|c| self.condition(*c).code() == code)
    }

    /// The error an entry's documentation shows: about a field when the code is raised for
    /// invalid or missing parameters or has a field template.
    pub(crate) fn example(&self, entry: &Entry) -> ApiError {
        let raised = |c| self.is_bound(c) && self.condition(c).code() == entry.code();
        if raised(Condition::InvalidParameter)
            || entry.field_message().is_some() && !raised(Condition::MissingParameter)
        {
            entry.field_error(FieldViolation::parameter(
                "id",
                "Value must be a whole number",
            ))
        } else if raised(Condition::MissingParameter) {
            entry.field_error(FieldViolation::parameter("id", "is required"))
        } else {
            entry.error()
        }
    }
}

/// Text safe inside a Markdown table cell.
pub(crate) fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
