//! Catalogs declared by a user with the macro, and the seed catalogs' structure.

use apierr::seeds::{SEED_003, Seed003Code};
use apierr::{ApiError, Category, Code, CodeStyle, Condition, Profile};

apierr::catalog! {
    /// A catalog as a user would declare it.
    pub static PAYMENTS: Catalog("payments");
    /// A payments code.
    pub enum PaymentsCode {
        /// The card was declined by the issuer.
        CardDeclined("card_declined") = 402, "card declined", url: "https://docs.example.com/errors/card_declined";
        /// The card was declined for insufficient funds.
        InsufficientFunds("card_declined.insufficient_funds" under CardDeclined) = 402, "insufficient funds";
        /// The payment provider is down; retry later.
        ProviderDown("provider_down") = 503, "payment provider unavailable";
        /// Too many attempts on one card.
        Velocity("velocity") = 429, "too many attempts", category: Content;
    }
    bind {
        RateLimited => Velocity,
    }
}

#[test]
fn macro_catalog_builds_errors_from_variants() {
    // Scenario: a user's variant becomes an error with its entry's status, code, URL.
    let e: ApiError = PaymentsCode::InsufficientFunds.into();
    assert_eq!(e.status().as_u16(), 402);
    assert_eq!(e.code(), &Code::text("card_declined.insufficient_funds"));
    assert_eq!(PAYMENTS.resolve(e.code()).unwrap().code(), e.code());
    let e = PaymentsCode::CardDeclined.error();
    assert_eq!(
        e.doc_url(),
        Some("https://docs.example.com/errors/card_declined")
    );
    assert_eq!(
        PaymentsCode::CardDeclined.entry().description(),
        "The card was declined by the issuer."
    );
    assert_eq!(PAYMENTS.style(), CodeStyle::Text);
}

#[test]
fn macro_bindings_and_defaults() {
    // Scenario: a bound condition takes the user's code; the others the general defaults.
    assert_eq!(
        PAYMENTS.condition(Condition::RateLimited).code(),
        &Code::text("velocity")
    );
    assert_eq!(
        PAYMENTS.error(Condition::RateLimited).category(),
        Category::Content
    );
    assert_eq!(
        PAYMENTS.condition(Condition::NotFound).code(),
        &Code::text("not_found")
    );
    assert!(!PAYMENTS.is_bound(Condition::NotFound));
}

#[test]
fn problem_type_is_the_documentation_url() {
    // Scenario: a documented code gets its URL as RFC 9457 type and its message as title.
    let profile = Profile::new("payments", &apierr::Problem, &PAYMENTS);
    let r = profile.render(
        &PaymentsCode::CardDeclined
            .error()
            .with_message("card 4242 declined"),
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body["type"],
        "https://docs.example.com/errors/card_declined"
    );
    assert_eq!(body["title"], "card declined");
    assert_eq!(body["detail"], "card 4242 declined");
}

#[test]
fn seed_003_table_is_complete() {
    // Scenario: every code of seed 003's table is present, with 2006's sub-codes under it.
    let codes: Vec<u32> = SEED_003
        .entries()
        .iter()
        .filter_map(|e| e.code().as_u32())
        .collect();
    assert_eq!(
        codes,
        [
            2006, 200601, 200602, 3001, 3002, 4003, 4004, 4005, 4006, 5000, 5001, 5002, 5003, 5004,
            6001, 6002, 6003, 6004, 6005, 6006, 6007, 9001, 9002, 9003
        ]
    );
    assert_eq!(
        Seed003Code::PtrNumberTaken.entry().parent(),
        Some(&Code::numeric(2006))
    );
    assert_eq!(SEED_003.style(), CodeStyle::Numeric);
    // Conditions the seed gives no code for fall back to the status, as it tells clients to.
    assert_eq!(
        SEED_003.condition(Condition::UnsupportedMediaType).code(),
        &Code::numeric(415)
    );
}

#[test]
fn every_profile_raises_every_condition() {
    // Scenario: no condition is left without a status and code under any profile.
    for p in Profile::ALL {
        for &c in Condition::ALL {
            let e = p.error(c);
            assert!(
                (400..=599).contains(&e.status().as_u16()),
                "{} {c}",
                p.name()
            );
            assert!(!e.message().is_empty(), "{} {c}", p.name());
        }
    }
}
