//! `/api/v2/users`: the tenant's database users. Passwords are hashed with Argon2id on the
//! slow lane and never returned; blocking or deleting a user revokes its refresh tokens.

use super::Problem;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oidc_core::manage::users::{self, Profile};
use oidc_core::{Secret, SystemEntropy, User};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Id, MgmtError, Paging, Target, iso_date, query};
use crate::state::{AppState, Lane};

/// The one connection users of this service belong to.
pub(crate) const CONNECTION: &str = "Username-Password-Authentication";

/// A user as the API shows it: never its password hash.
pub(crate) fn view(user: &User) -> Value {
    let provider_id = user.user_id.strip_prefix("auth0|").unwrap_or(&user.user_id);
    json!({
        "user_id": user.user_id,
        "email": user.email,
        "email_verified": user.email_verified,
        "username": user.username,
        "name": user.name,
        "nickname": user.nickname,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "picture": user.picture,
        "app_metadata": user.app_metadata,
        "user_metadata": user.user_metadata,
        "roles": user.roles,
        "blocked": user.blocked,
        "logins_count": user.logins_count,
        "created_at": iso_date(user.created_at),
        "updated_at": iso_date(user.updated_at),
        "identities": [{
            "connection": CONNECTION,
            "provider": "auth0",
            "user_id": provider_id,
            "isSocial": false,
        }],
    })
}

/// The body of a create or an update: Auth0's user fields.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserBody {
    user_id: Option<String>,
    connection: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    username: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    picture: Option<String>,
    password: Option<String>,
    roles: Option<Vec<String>>,
    blocked: Option<bool>,
    #[schema(value_type = Option<Object>)]
    app_metadata: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    user_metadata: Option<Map<String, Value>>,
}

impl std::fmt::Debug for UserBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserBody")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl UserBody {
    fn parse(body: Result<Json<UserBody>, JsonRejection>) -> Result<UserBody, MgmtError> {
        // The rejection text could quote the password: it is not repeated.
        let Json(body) = body.map_err(|e| {
            let reason = match e {
                JsonRejection::MissingJsonContentType(_) => "Send the user as application/json.",
                _ => "The body is not a user: check the field names and types.",
            };
            MgmtError::bad_request("invalid_body", reason)
        })?;
        if let Some(connection) = &body.connection
            && connection != CONNECTION
        {
            return Err(MgmtError::bad_request(
                "invalid_body",
                format!("The only connection is {CONNECTION:?}."),
            ));
        }
        Ok(body)
    }

    fn profile(self) -> (Option<String>, Profile) {
        let profile = Profile {
            email: self.email,
            email_verified: self.email_verified,
            username: self.username,
            name: self.name,
            nickname: self.nickname,
            given_name: self.given_name,
            family_name: self.family_name,
            picture: self.picture,
            roles: self.roles,
            blocked: self.blocked,
            password: self.password.map(Secret::new),
            app_metadata: self.app_metadata,
            user_metadata: self.user_metadata,
        };
        (self.user_id, profile)
    }
}

#[utoipa::path(
    operation_id = "list_users",
    get,
    path = "/users",
    tag = "users",
    params(Paging),
    security(("bearer" = ["read:users"])),
    responses((status = 200, description = "The users, paginated.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    target: Target,
    params: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let paging = query(params)?;
    let (offset, limit) = paging.window()?;
    super::read(&state, target, "read:users", move |call| {
        let (page, total) = users::list(call.store(), call.id(), offset, limit)
            .map_err(MgmtError::managing("user"))?;
        paging.page_of("users", page.iter().map(view).collect(), total)
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ByEmail {
    email: String,
}

#[utoipa::path(
    operation_id = "get_users_by_email",
    get,
    path = "/users-by-email",
    tag = "users",
    params(ByEmail),
    security(("bearer" = ["read:users"])),
    responses((status = 200, description = "The users with this email.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn by_email(
    State(state): State<AppState>,
    target: Target,
    params: Result<Query<ByEmail>, QueryRejection>,
) -> Result<Json<Value>, MgmtError> {
    let ByEmail { email } = query(params)?;
    super::read(&state, target, "read:users", move |call| {
        let found = users::by_email(call.store(), call.id(), &email)
            .map_err(MgmtError::managing("user"))?;
        Ok(found.iter().map(view).collect())
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "get_user",
    get,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The user id.")),
    security(("bearer" = ["read:users"])),
    responses((status = 200, description = "The user.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<Json<Value>, MgmtError> {
    super::read(&state, target, "read:users", move |call| {
        users::get(call.store(), call.id(), &id)
            .map(|user| view(&user))
            .map_err(MgmtError::managing("user"))
    })
    .await
    .map(Json)
}

#[utoipa::path(
    operation_id = "create_user",
    post,
    path = "/users",
    tag = "users",
    request_body = UserBody,
    security(("bearer" = ["create:users"])),
    responses((status = 201, description = "The created user.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    target: Target,
    body: Result<Json<UserBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), MgmtError> {
    let (user_id, profile) = UserBody::parse(body)?.profile();
    let user = super::write_on(&state, target, "create:users", Lane::Slow, move |call| {
        users::create(
            call.store(),
            call.id(),
            user_id,
            profile,
            call.now,
            &mut SystemEntropy,
        )
        .map_err(MgmtError::managing("user"))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view(&user))))
}

#[utoipa::path(
    operation_id = "update_user",
    patch,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The user id.")),
    request_body = UserBody,
    security(("bearer" = ["update:users"])),
    responses((status = 200, description = "The updated user.", body = Object), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
    body: Result<Json<UserBody>, JsonRejection>,
) -> Result<Json<Value>, MgmtError> {
    let (user_id, profile) = UserBody::parse(body)?.profile();
    if user_id.is_some() {
        return Err(MgmtError::bad_request(
            "invalid_body",
            "A user's user_id cannot change.",
        ));
    }
    let lane = if profile.password.is_some() {
        Lane::Slow
    } else {
        Lane::Normal
    };
    let user = super::write_on(&state, target, "update:users", lane, move |call| {
        users::update(
            call.store(),
            call.id(),
            &id,
            profile,
            call.now,
            &mut SystemEntropy,
        )
        .map_err(MgmtError::managing("user"))
    })
    .await?;
    Ok(Json(view(&user)))
}

#[utoipa::path(
    operation_id = "delete_user",
    delete,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The user id.")),
    security(("bearer" = ["delete:users"])),
    responses((status = 204, description = "Deleted; the user's refresh tokens are revoked."), (status = "4XX", description = "Refused: Auth0's error body, the reason in `message`.", body = Problem))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    target: Target,
    Path(Id { id }): Path<Id>,
) -> Result<StatusCode, MgmtError> {
    super::write(&state, target, "delete:users", move |call| {
        users::delete(call.store(), call.id(), &id, call.now).map_err(MgmtError::managing("user"))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
