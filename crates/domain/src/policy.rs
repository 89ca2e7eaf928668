//! The address rules for sign-up and import (PRODUCT.md rules 3 and 5):
//! syntax is settled by [`EmailAddress::parse`]; this adds what depends on
//! the operator's configuration.

use crate::{AddressError, DisposableDomains, EmailAddress, RoleAddresses};

/// The operator's role list and disposable-domain list together.
#[derive(Clone, Debug, Default)]
pub struct AddressPolicy {
    pub roles: RoleAddresses,
    pub disposable: DisposableDomains,
}

impl AddressPolicy {
    /// Checks a parsed address against the rules for sign-up/import:
    /// Err(RoleAddress) or Err(DisposableDomain).
    pub fn check(&self, addr: &EmailAddress) -> Result<(), AddressError> {
        if self.roles.is_role(addr) {
            return Err(AddressError::RoleAddress { local: addr.local_part().to_owned() });
        }
        if self.disposable.is_disposable(addr.domain()) {
            return Err(AddressError::DisposableDomain { domain: addr.domain().to_owned() });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn personal_address_passes() {
        assert_eq!(AddressPolicy::default().check(&addr("jane@example.com")), Ok(()));
    }

    #[test]
    fn role_address_is_refused() {
        let e = AddressPolicy::default().check(&addr("Abuse+x@example.com")).unwrap_err();
        assert_eq!(e, AddressError::RoleAddress { local: "Abuse+x".into() });
        assert_eq!(e.code(), "role_address");
    }

    #[test]
    fn disposable_domain_is_refused() {
        let e = AddressPolicy::default().check(&addr("jane@sub.Mailinator.com")).unwrap_err();
        assert_eq!(e, AddressError::DisposableDomain { domain: "sub.mailinator.com".into() });
        assert_eq!(e.code(), "disposable_domain");
    }

    #[test]
    fn operator_configuration_applies() {
        let policy = AddressPolicy {
            roles: RoleAddresses::default().with_extra(["zentrale"]),
            disposable: DisposableDomains::builtin()
                .with_overrides(["mailinator.com".to_owned()], ["example.org".to_owned()]),
        };
        assert_eq!(policy.check(&addr("jane@mailinator.com")), Ok(()));
        assert_eq!(policy.check(&addr("jane@example.org")).unwrap_err().code(), "disposable_domain");
        assert_eq!(policy.check(&addr("zentrale@example.com")).unwrap_err().code(), "role_address");
    }
}
