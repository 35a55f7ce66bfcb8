//! The command line's own reference: every command's `--help`, collected into
//! `docs/cli.md`, and every argument with a description.

use std::process::Command;

/// `apierr ARGS --help`, as the binary prints it.
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_apierr"))
        .args(args)
        .arg("--help")
        .output()
        .expect("the apierr binary");
    assert!(out.status.success(), "apierr {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of a help text's section (`Commands:`, `Options:`, `Arguments:`).
fn section<'a>(help: &'a str, title: &str) -> Vec<&'a str> {
    help.lines()
        .skip_while(|line| *line != title)
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect()
}

/// Every command path, depth first: `[]`, `["serve"]`, `["webhooks"]`,
/// `["webhooks", "report"]`, …
fn commands(prefix: Vec<String>, into: &mut Vec<(Vec<String>, String)>) {
    let args: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let text = help(&args);
    let subcommands: Vec<String> = section(&text, "Commands:")
        .into_iter()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect();
    into.push((prefix.clone(), text));
    for name in subcommands {
        let mut path = prefix.clone();
        path.push(name);
        commands(path, into);
    }
}

/// The reference page: each command's help, in order.
fn reference() -> String {
    let mut all = Vec::new();
    commands(Vec::new(), &mut all);
    let mut page = String::from(
        "# The `apierr` command\n\n\
         Generated from each command's `--help` by `apierr-cli`'s tests \
         (`APIERR_BLESS=1 cargo test -p apierr-cli --test it cli::` writes it again).\n",
    );
    for (path, text) in all {
        let name = std::iter::once("apierr".to_owned())
            .chain(path)
            .collect::<Vec<_>>()
            .join(" ");
        page.push_str(&format!(
            "\n## `{name}`\n\n```text\n{}\n```\n",
            text.trim_end()
        ));
    }
    page
}

#[test]
fn the_reference_page_is_the_commands_help() {
    // Scenario: docs/cli.md says what `--help` says, for every command; a flag added or
    // changed without the page written again fails here.
    let page = reference();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md");
    if std::env::var_os("APIERR_BLESS").is_some() {
        std::fs::write(file, &page).unwrap();
        return;
    }
    let written = std::fs::read_to_string(file).unwrap_or_default();
    assert!(
        written == page,
        "docs/cli.md is not the commands' help: run APIERR_BLESS=1 cargo test -p apierr-cli --test it cli::"
    );
}

#[test]
fn every_argument_says_what_it_is() {
    // Scenario: no option or argument of any command is shown with nothing but its name.
    let mut all = Vec::new();
    commands(Vec::new(), &mut all);
    assert!(
        all.len() >= 8,
        "fewer commands than apierr has: {}",
        all.len()
    );
    for (path, text) in &all {
        let lines: Vec<&str> = section(text, "Options:")
            .into_iter()
            .chain(section(text, "Arguments:"))
            .collect();
        // An item starts at the left (`  -h`, `      --flag`, `  <ARG>`); clap puts its
        // description after it on the line or, when any help is long, on the lines
        // below, indented further.
        let mut items: Vec<(String, String)> = Vec::new();
        for line in lines {
            let indent = line.len() - line.trim_start().len();
            let text = line.trim();
            if indent <= 6 && (text.starts_with('-') || text.starts_with('<')) {
                let (name, rest) = text.split_once("  ").unwrap_or((text, ""));
                items.push((name.to_owned(), rest.to_owned()));
            } else if let Some((_, description)) = items.last_mut() {
                description.push(' ');
                description.push_str(text);
            }
        }
        for (name, description) in items {
            let said = description
                .split("[default:")
                .next()
                .unwrap_or_default()
                .split("[possible values:")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            assert!(
                !said.is_empty(),
                "apierr {}: {name} has no description",
                path.join(" ")
            );
        }
    }
}

#[test]
fn serve_flags_refuse_values_out_of_range() {
    // Scenario: every connection bound and the grace period refuse zero, a negative or
    // huge value and a malformed one with an error that names the flag, before anything
    // starts; a value in range is taken.
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_apierr"))
            .args(args)
            .output()
            .expect("the apierr binary")
    };
    for (flag, bad) in [
        ("--header-timeout", "0s"),
        ("--header-timeout", "-5s"),
        ("--header-timeout", "10"),
        ("--body-timeout", "400days"),
        ("--body-timeout", "soon"),
        ("--shutdown-grace", "0ms"),
        ("--max-connections", "0"),
        ("--max-connections", "-1"),
        ("--max-connections", "99999999999"),
    ] {
        let out = run(&["serve", flag, bad, "--database-url", "sqlite::memory:"]);
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag) && err.contains("invalid value"),
            "{flag} {bad}: {err}"
        );
    }
    let out = run(&["webhooks", "worker", "--shutdown-grace", "0s"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    for (flag, bad) in [
        ("--admin-token", "short"),
        ("--admin-token", "0123456789abcdef0123456789abcde"),
        ("--admin-token", "0123456789abcdef 0123456789abcdef"),
        ("--auth-failure-limit", "0/60s"),
        ("--auth-failure-limit", "60"),
        ("--trust-proxy", "10.0.0.0/33"),
        ("--webhook-proxy", "socks://proxy:1080"),
        ("--webhook-proxy", "http://proxy:3128/path"),
        ("--webhook-concurrency", "0"),
        ("--webhook-concurrency", "-3"),
        ("--webhook-concurrency", "100000"),
        ("--webhook-endpoint-concurrency", "many"),
        ("--webhook-partner-concurrency", "0"),
    ] {
        let out = run(&["serve", flag, bad, "--database-url", "sqlite::memory:"]);
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {bad}: {err}");
    }
}
