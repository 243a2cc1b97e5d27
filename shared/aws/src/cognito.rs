//! `IdentityProvider` over a Cognito user pool (`COGNITO_USER_POOL_ID`).
//!
//! Pool users are named by their `bizId`, with the address as a verified
//! `email` alias (users sign in with it). Cognito never holds their
//! password: a user is created with a random one that no app client flow
//! accepts (the template's client allows custom authentication and refresh
//! only), and the custom-auth triggers check what the user typed here.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::operation::admin_create_user::AdminCreateUserError;
use aws_sdk_cognitoidentityprovider::operation::admin_user_global_sign_out::AdminUserGlobalSignOutError;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use aws_sdk_cognitoidentityprovider::Client;
use base64::Engine;
use shared::ports::accounts::User;
use shared::ports::{IdentityProvider, PortResult};

use crate::error::{corrupt, unavailable};

#[derive(Debug, Clone)]
pub struct CognitoIdentityProvider {
    client: Client,
    pool_id: String,
}

impl CognitoIdentityProvider {
    pub fn new(client: Client, pool_id: impl Into<String>) -> Self {
        CognitoIdentityProvider {
            client,
            pool_id: pool_id.into(),
        }
    }

    /// Revokes every refresh token of `biz_id`; `false` when the pool has no such user.
    async fn sign_out(&self, biz_id: &str) -> PortResult<bool> {
        match self
            .client
            .admin_user_global_sign_out()
            .user_pool_id(&self.pool_id)
            .username(biz_id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(AdminUserGlobalSignOutError::UserNotFoundException(_)) => Ok(false),
                _ => Err(unavailable("cognito AdminUserGlobalSignOut", e)),
            },
        }
    }

    /// Creates `user` in the pool, confirmed, with an unusable random password.
    async fn create(&self, user: &User) -> PortResult<()> {
        let attribute = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|_| corrupt("cognito user attribute"))
        };
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(&user.biz_id)
            .user_attributes(attribute("email", &user.email)?)
            .user_attributes(attribute("email_verified", "true")?)
            .message_action(MessageActionType::Suppress)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // A concurrent first password made it: the same user.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(AdminCreateUserError::UsernameExistsException(_))
                ) => {}
            Err(e) => return Err(unavailable("cognito AdminCreateUser", e)),
        }
        self.client
            .admin_set_user_password()
            .user_pool_id(&self.pool_id)
            .username(&user.biz_id)
            .password(unusable_password())
            .permanent(true)
            .send()
            .await
            .map_err(|e| unavailable("cognito AdminSetUserPassword", e))?;
        Ok(())
    }
}

/// 32 random bytes, plus one character of each class a pool policy may ask for.
fn unusable_password() -> String {
    let bytes: [u8; 32] = shared::channel::random_bytes();
    format!(
        "{}aA1!",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[async_trait]
impl IdentityProvider for CognitoIdentityProvider {
    async fn password_set(&self, user: &User) -> PortResult<()> {
        if !self.sign_out(&user.biz_id).await? {
            self.create(user).await?;
        }
        Ok(())
    }
}
