//! The gRPC service `demo.v1.Profiles`. Scopes are checked by the layer's
//! scope table before a request gets here; handlers only read the principal.

use tonic::{Request, Response, Status};
use tower_bearer_auth::jwt::Caller;

use crate::jwt::Who;
use crate::proto::profiles_server::Profiles;
use crate::proto::{CallAccepted, GetProfileRequest, PlaceCallRequest, Profile};
use crate::rest::next_call_id;

#[derive(Debug, Default)]
pub(crate) struct ProfilesService;

#[tonic::async_trait]
impl Profiles for ProfilesService {
    async fn get_profile(
        &self,
        request: Request<GetProfileRequest>,
    ) -> Result<Response<Profile>, Status> {
        let who: &Who = tower_bearer_auth::tonic::principal(&request)?;
        Ok(Response::new(match who {
            Caller::Key(key) => Profile {
                id: key.id().to_owned(),
                label: key.label().to_owned(),
                scopes: key.scopes().iter().map(str::to_owned).collect(),
            },
            // A JWT's subject is its id; it has no label.
            Caller::Jwt(claims) => Profile {
                id: claims.subject().unwrap_or_default().to_owned(),
                label: String::new(),
                scopes: claims.scopes().iter().map(str::to_owned).collect(),
            },
        }))
    }

    async fn place_call(
        &self,
        request: Request<PlaceCallRequest>,
    ) -> Result<Response<CallAccepted>, Status> {
        tower_bearer_auth::tonic::principal::<Who, _>(&request)?;
        Ok(Response::new(CallAccepted {
            call_id: next_call_id(),
        }))
    }
}
