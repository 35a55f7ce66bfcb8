//! Integration tests of the apierr core, in one binary.

mod catalogs;
mod corpus;
mod parse;
mod roundtrip;
mod schemas;
mod seeds;
mod snapshots;

/// A body as a string, for comparisons.
pub(crate) fn text(body: &[u8]) -> &str {
    std::str::from_utf8(body).expect("bodies are UTF-8")
}

/// JSON text with the whitespace between tokens removed, so that a seed's pretty-printed
/// example compares byte for byte (member order included) with a compact rendering.
pub(crate) fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}
