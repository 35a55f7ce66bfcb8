//! Prints the errors of the seed contracts: for each profile (or the one named), the
//! status and body every framework condition gets, or with `--docs` the catalog as
//! Markdown.
//!
//! ```text
//! cargo run -p apierr --example contracts                  # every profile
//! cargo run -p apierr --example contracts -- nested        # one profile
//! cargo run -p apierr --example contracts -- errors-array --docs
//! ```

use std::process::ExitCode;

use apierr::{Condition, FieldViolation, Profile};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let docs = args.iter().any(|a| a == "--docs");
    let profiles: Vec<Profile> = match args.iter().find(|a| !a.starts_with("--")) {
        Some(name) => match Profile::by_name(name) {
            Some(p) => vec![p],
            None => {
                let names: Vec<_> = Profile::ALL.iter().map(Profile::name).collect();
                eprintln!("unknown profile {name:?}; profiles: {}", names.join(", "));
                return ExitCode::from(2);
            }
        },
        None => Profile::ALL.to_vec(),
    };
    for profile in profiles {
        if docs {
            println!("{}", profile.docs());
            continue;
        }
        println!(
            "== profile {} (dialect {})\n",
            profile.name(),
            profile.dialect().name()
        );
        for &condition in Condition::ALL {
            let error = match condition {
                Condition::InvalidParameter => profile.field_error(
                    condition,
                    [FieldViolation::parameter(
                        "id",
                        "Value must be a whole number",
                    )],
                ),
                Condition::MissingParameter => {
                    profile.field_error(condition, [FieldViolation::parameter("id", "is required")])
                }
                _ => profile.error(condition),
            };
            let rendered = profile.render(&error);
            println!(
                "{condition}: {} {}\n  {}\n",
                rendered.status.as_u16(),
                rendered.content_type.to_str().unwrap_or("-"),
                String::from_utf8_lossy(&rendered.body)
            );
        }
    }
    ExitCode::SUCCESS
}
