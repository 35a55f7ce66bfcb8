//! Names no other test uses, and the process that made them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// What every name this kit makes starts with, so that a sweep finds them all and
/// nothing else.
pub(crate) const PREFIX: &str = "apierr_t";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A name no other test of this run or of an earlier run uses:
/// `apierr_t_{label}_{pid}_{nanos}_{n}`, lower case, usable as an SQL identifier, a file
/// name and a Redis key prefix. `label` should be a short lower-case word.
pub fn unique(label: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{PREFIX}_{label}_{}_{nanos}_{n}", std::process::id())
}

/// The process id inside a name [`unique`] made.
pub(crate) fn owner(name: &str) -> Option<u32> {
    // The pid is the third field from the end, whatever the label holds.
    let mut fields = name.rsplit('_');
    fields.next()?;
    fields.next()?;
    fields.next()?.parse().ok()
}

/// Whether the process that made `name` has ended (so its leftovers may go). Where it
/// cannot be told (no `/proc`), nothing is taken for dead.
pub(crate) fn owner_ended(name: &str) -> bool {
    let Some(pid) = owner(name) else { return false };
    let proc = std::path::Path::new("/proc");
    proc.is_dir() && !proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_carries_its_process() {
        // The sweep relies on reading the pid back, whatever the label.
        let name = unique("Web-hooks_2");
        assert!(name.starts_with("apierr_t_web_hooks_2_"), "{name}");
        assert_eq!(owner(&name), Some(std::process::id()));
        assert!(!owner_ended(&name));
        assert_ne!(unique("x"), unique("x"));
    }
}
