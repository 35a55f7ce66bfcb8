//! The errors every group of handlers builds the same way.

use apierr::{ApiError, Condition, FieldViolation, ViolationKind};

/// A parameter that does not validate, with the field it names.
pub(crate) fn invalid(kind: ViolationKind, field: &'static str, message: &'static str) -> ApiError {
    ApiError::from(Condition::InvalidParameter)
        .with_violation(FieldViolation::new(kind, field, message))
}

/// A store failure: a 500 whose cause is logged with the request id, never shown.
pub(crate) fn internal(e: sqlx::Error) -> ApiError {
    ApiError::from(Condition::Internal).with_source(e)
}
