//! [`Valid`]: an extracted value that also passes its `garde` rules.

use apierr::{ApiError, Condition, FieldViolation, ViolationKind};
use axum::extract::{FromRequest, Request};
use garde::Validate;

use super::{Json, field_condition};

/// A [`Json`] body that also passes its [`garde::Validate`] rules. Every rule that fails
/// becomes a field violation of the invalid-parameter condition (the profile's dialect
/// shows all of them, or the first).
///
/// ```
/// use apierr_axum::{Json, Valid};
///
/// #[derive(serde::Deserialize, garde::Validate)]
/// struct NewAccount {
///     #[garde(length(min = 1, max = 100))]
///     first_name: String,
/// }
///
/// async fn create(Valid(Json(account)): Valid<Json<NewAccount>>) -> String {
///     account.first_name
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<E>(pub E);

impl<T, S> FromRequest<S> for Valid<Json<T>>
where
    T: serde::de::DeserializeOwned + Validate,
    T::Context: Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        value.validate().map_err(|report| {
            field_condition(
                Condition::InvalidParameter,
                report.iter().map(|(path, error)| {
                    let path = path.to_string();
                    let field = if path.is_empty() {
                        "(root)".to_owned()
                    } else {
                        path
                    };
                    FieldViolation::new(ViolationKind::Body, field, error.message().to_owned())
                }),
            )
        })?;
        Ok(Valid(Json(value)))
    }
}
