//! tonic integration: reading the principal in a handler.
//!
//! The layer itself needs no feature to protect a tonic server:
//! `tonic::transport::Server::builder().layer(auth)` or a layered
//! `Routes` both work, and refusals reach clients as `UNAUTHENTICATED`,
//! `PERMISSION_DENIED` or `UNAVAILABLE`.

use crate::principal::Principal;
use crate::rejection::{self, RejectionKind};

/// The principal that [`BearerAuthLayer`](crate::BearerAuthLayer)
/// authenticated, or `UNAUTHENTICATED` if the request did not go through
/// the layer (fail closed; an error is logged).
///
/// ```
/// use tower_bearer_auth::ApiKey;
///
/// fn get_profile(request: &tonic::Request<()>) -> Result<String, tonic::Status> {
///     let key: &ApiKey = tower_bearer_auth::tonic::principal(request)?;
///     Ok(key.label().to_owned())
/// }
/// ```
///
/// # Errors
///
/// [`tonic::Status::unauthenticated`] when no principal of type `P` is in
/// the request extensions.
pub fn principal<P: Principal, T>(request: &::tonic::Request<T>) -> Result<&P, ::tonic::Status> {
    request.extensions().get::<P>().ok_or_else(|| {
        rejection::missing_principal(std::any::type_name::<P>());
        ::tonic::Status::unauthenticated(RejectionKind::MissingCredentials.description())
    })
}
