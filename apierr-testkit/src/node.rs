//! The npm packages the outside checks need.

use std::path::PathBuf;

/// Where `scripts/test` installs `.ci/lint`'s pinned npm packages: `APIERR_NODE_TOOLS`,
/// default `$XDG_CACHE_HOME/apierr/node-tools` (or `~/.cache/apierr/node-tools`).
pub fn node_tools() -> PathBuf {
    if let Some(dir) = std::env::var_os("APIERR_NODE_TOOLS") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("apierr").join("node-tools")
}

/// The `node_modules` directory that holds `package` (for `NODE_PATH`). Fails the test,
/// naming the package and where it was looked for, when it is not installed: never a
/// silent skip.
pub fn node_modules_with(package: &str) -> PathBuf {
    let modules = node_tools().join("node_modules");
    if !modules.join(package).join("package.json").is_file() {
        panic!(
            "the npm package `{package}` is missing from {} \
             (scripts/test installs .ci/lint's lock file there; or set APIERR_NODE_TOOLS)",
            modules.display()
        );
    }
    modules
}
