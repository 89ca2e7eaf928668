//! Who is calling. API tokens are random 256-bit secrets shown once and
//! stored as SHA-256 (a slow hash buys nothing for secrets this long and
//! would cost a few ms on every request); passwords use argon2id.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use assent_domain::{AccountId, AccountStatus, OperatorId, UserId, UserRole};
use assent_store::{Account, TokenOwner};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

const TOKEN_PREFIX: &str = "assent_";

/// Creates a new token secret and the hash to store for it.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    // Without an OS random source no secret can be made safely; the
    // process cannot do its job and must stop.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(&mut bytes).expect("the OS random number generator is unavailable");
    let secret = format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&secret);
    (secret, hash)
}

pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// An authenticated caller: an operator or an account (through a token).
#[derive(Debug, Clone)]
pub enum Caller {
    Operator { operator: OperatorId, token: i64 },
    Account(AccountCaller),
}

#[derive(Debug, Clone)]
pub struct AccountCaller {
    pub account: AccountId,
    pub user: Option<UserId>,
    pub role: UserRole,
    pub token: i64,
}

impl Caller {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Caller::Operator { operator, token } => format!("operator:{operator}/token:{token}"),
            Caller::Account(a) => match a.user {
                Some(u) => format!("user:{u}/token:{}", a.token),
                None => format!("token:{}", a.token),
            },
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let secret = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or_else(ApiError::unauthorized)?;
        let record = state.store.find_token(&hash_token(secret)).await?.ok_or_else(ApiError::unauthorized)?;
        Ok(match record.owner {
            TokenOwner::Operator(operator) => Caller::Operator { operator, token: record.id.get() },
            TokenOwner::Account { account, user } => {
                Caller::Account(AccountCaller { account, user, role: record.role, token: record.id.get() })
            }
        })
    }
}

/// An operator caller; account tokens get 403.
pub struct OperatorAuth {
    pub caller: Caller,
    pub operator: OperatorId,
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match caller {
            Caller::Operator { operator, .. } => Ok(OperatorAuth { operator, caller }),
            Caller::Account(_) => {
                Err(ApiError::forbidden("operator_only", "this route is for the operator of the installation"))
            }
        }
    }
}

/// An account caller; operator tokens get 403 (operators act on accounts
/// through the operator routes, never as the customer).
pub struct AccountAuth {
    pub caller: Caller,
    pub who: AccountCaller,
}

impl AccountAuth {
    pub fn account(&self) -> AccountId {
        self.who.account
    }

    /// Writes what this caller did to the account's audit log.
    pub async fn record(
        &self,
        state: &AppState,
        ip: Option<String>,
        action: &str,
        target: String,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        state
            .store
            .record_action(&assent_store::NewAuditEntry {
                account: Some(self.account()),
                actor: self.caller.actor(),
                action: action.into(),
                target,
                detail,
                ip,
            })
            .await?;
        Ok(())
    }

    /// Refuses viewers: they read but do not change.
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.who.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::forbidden("insufficient_role", "this token's role (viewer) may only read"))
        }
    }

    pub fn require_owner(&self) -> Result<(), ApiError> {
        if self.who.role.can_administer() {
            Ok(())
        } else {
            Err(ApiError::forbidden("insufficient_role", "only an account owner may do this"))
        }
    }

    /// Loads the account and refuses unless it is active: sending and
    /// importing wait for the operator's audit (PRODUCT.md rule 4).
    pub async fn require_active(&self, state: &AppState) -> Result<Account, ApiError> {
        let account = state.store.get_account(self.who.account).await?.ok_or_else(ApiError::unauthorized)?;
        if account.status == AccountStatus::Active {
            Ok(account)
        } else {
            Err(ApiError::forbidden(
                "account_not_active",
                format!(
                    "this account is {}: sending and importing are possible once the operator has activated it{}",
                    account.status.as_str().replace('_', " "),
                    if account.status == AccountStatus::PendingAudit {
                        " after the audit (PUT /api/v1/account/audit)"
                    } else {
                        ""
                    }
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for AccountAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match &caller {
            Caller::Account(who) => Ok(AccountAuth { who: who.clone(), caller }),
            Caller::Operator { .. } => Err(ApiError::forbidden(
                "account_only",
                "this route acts as an account; use an account token (POST /api/v1/accounts/{id}/tokens)",
            )),
        }
    }
}
