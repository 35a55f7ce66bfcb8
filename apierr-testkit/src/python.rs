//! A Python interpreter with the packages the outside checks need.

use std::path::PathBuf;
use std::process::Command;

/// The venv `scripts/test` installs `.ci/requirements.txt` into: `APIERR_VENV`, default
/// `$XDG_CACHE_HOME/apierr/venv` (or `~/.cache/apierr/venv`), outside the clone.
pub fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("APIERR_VENV") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("apierr").join("venv")
}

/// A Python that can import `package` (a module name, e.g. `standardwebhooks`):
/// `APIERR_PYTHON` if set, else the [`venv`]'s. Fails the test, naming the package, the
/// interpreter tried and how to get it, when there is none: never a silent skip.
pub fn python_with(package: &str) -> PathBuf {
    let python = std::env::var_os("APIERR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv().join("bin").join("python"));
    let imported = Command::new(&python)
        .args(["-c", &format!("import {package}")])
        .output();
    match imported {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!(
            "the Python package `{package}` is missing from {}: {}\n\
             (scripts/test installs .ci/requirements.txt into {}; or set APIERR_PYTHON)",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim(),
            venv().display(),
        ),
        Err(e) => panic!(
            "no Python at {} ({e}), so the Python package `{package}` cannot be used\n\
             (scripts/test makes a venv with .ci/requirements.txt at {}; or set APIERR_PYTHON)",
            python.display(),
            venv().display(),
        ),
    }
}
