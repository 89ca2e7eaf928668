//! What a user of an account may do.

use serde::{Deserialize, Serialize};

/// The role of an account user. Owners manage users and tokens, editors
/// change lists, contacts and campaigns, viewers only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Owner,
    Editor,
    Viewer,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Owner => "owner",
            UserRole::Editor => "editor",
            UserRole::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<UserRole> {
        match s {
            "owner" => Some(UserRole::Owner),
            "editor" => Some(UserRole::Editor),
            "viewer" => Some(UserRole::Viewer),
            _ => None,
        }
    }

    /// May this role change data (lists, contacts, campaigns)?
    pub fn can_write(self) -> bool {
        matches!(self, UserRole::Owner | UserRole::Editor)
    }

    /// May this role manage users and API tokens?
    pub fn can_administer(self) -> bool {
        self == UserRole::Owner
    }
}
