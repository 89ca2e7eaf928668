//! Role mailboxes (RFC 2142 and common non-personal local parts). Mail to
//! them reaches a team or a machine, not a person who agreed to it, so
//! Assent never mails them (PRODUCT.md rule 5).

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use crate::EmailAddress;

/// RFC 2142 §3–§5.
const RFC_2142: &[&str] = &[
    "info",
    "marketing",
    "sales",
    "support",
    "abuse",
    "noc",
    "security",
    "postmaster",
    "hostmaster",
    "usenet",
    "news",
    "webmaster",
    "www",
    "uucp",
    "ftp",
];

/// Curated from mixmaxhq/role-based-email-addresses (MIT) and German usage.
/// Only names that a person would not have as a personal mailbox: no first
/// names, no surnames, no words that double as nicknames. Separators are
/// irrelevant ("no-reply" also covers "noreply", "no_reply", "no.reply").
const CURATED: &[&str] = &[
    // Administration and machines.
    "admin",
    "administrator",
    "administration",
    "root",
    "sysadmin",
    "webadmin",
    "hostadmin",
    "it",
    "it-support",
    "itsupport",
    "tech",
    "technical",
    "techsupport",
    "dev",
    "devnull",
    "daemon",
    "mailer-daemon",
    "nobody",
    "system",
    "www-data",
    "dns",
    "domains",
    "mail",
    "email",
    "mailbox",
    "inbox",
    "webmail",
    "test",
    // Automated senders.
    "no-reply",
    "do-not-reply",
    "notifications",
    "notification",
    "alerts",
    "alert",
    "bounce",
    "bounces",
    "return",
    "returns",
    // Mailing-list machinery.
    "list",
    "lists",
    "listserv",
    "listmaster",
    "majordomo",
    "newsletter",
    "newsletters",
    "subscribe",
    "unsubscribe",
    "spam",
    "nospam",
    "phishing",
    "fraud",
    "cert",
    "csirt",
    // Contact points.
    "office",
    "contact",
    "contacts",
    "contact-us",
    "hello",
    "welcome",
    "general",
    "enquiries",
    "enquiry",
    "inquiries",
    "inquiry",
    "feedback",
    "help",
    "helpdesk",
    "service",
    "services",
    "servicedesk",
    "customer-service",
    "customer-care",
    "customer-support",
    "customers",
    "reception",
    "front-desk",
    "team",
    "staff",
    "all",
    "everyone",
    "employees",
    "board",
    "management",
    // Departments.
    "sales-team",
    "marketing-team",
    "support-team",
    "billing",
    "accounts",
    "accounting",
    "accounts-payable",
    "accounts-receivable",
    "invoice",
    "invoices",
    "payment",
    "payments",
    "finance",
    "purchasing",
    "procurement",
    "orders",
    "order",
    "shop",
    "store",
    "webshop",
    "booking",
    "bookings",
    "reservations",
    "shipping",
    "logistics",
    "warranty",
    "hr",
    "human-resources",
    "jobs",
    "careers",
    "career",
    "recruiting",
    "recruitment",
    "applications",
    "press",
    "media",
    "newsroom",
    "events",
    "partners",
    "affiliates",
    "investors",
    "investor-relations",
    "community",
    "social",
    "privacy",
    "dpo",
    "gdpr",
    "data-protection",
    "legal",
    "compliance",
    // German equivalents, common on the sender's own market.
    "kontakt",
    "buero",
    "büro",
    "sekretariat",
    "verwaltung",
    "vertrieb",
    "bestellung",
    "rechnung",
    "buchhaltung",
    "datenschutz",
    "impressum",
    "presse",
    "redaktion",
    "kundenservice",
    "bewerbung",
];

static BUILTIN: LazyLock<RoleAddresses> = LazyLock::new(|| {
    let names = RFC_2142.iter().chain(CURATED).map(|n| key(n)).collect();
    RoleAddresses { names: Arc::new(names) }
});

/// The built-in list, shared so that [`EmailAddress::is_role`] costs no
/// allocation of the set.
pub(crate) fn builtin() -> &'static RoleAddresses {
    &BUILTIN
}

/// Lookup key: the part before any `+tag`, lower-cased, without the
/// separators people vary freely ("no-reply" = "no_reply" = "noreply").
fn key(local_part: &str) -> String {
    let base = local_part.split('+').next().unwrap_or(local_part);
    base.chars().filter(|c| !matches!(c, '-' | '_' | '.')).flat_map(char::to_lowercase).collect()
}

/// The set of role local parts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RoleAddresses {
    names: Arc<HashSet<String>>,
}

impl Default for RoleAddresses {
    fn default() -> Self {
        builtin().clone()
    }
}

impl RoleAddresses {
    /// Adds the operator's own role names. Entries may be written as
    /// "billing" or "billing@"; blank entries are ignored.
    pub fn with_extra<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, extra: I) -> Self {
        let names = Arc::make_mut(&mut self.names);
        for name in extra {
            let name = name.as_ref().trim();
            let name = name.strip_suffix('@').unwrap_or(name);
            let k = key(name);
            if !k.is_empty() {
                names.insert(k);
            }
        }
        self
    }

    /// Is this local part a role mailbox? Case-insensitive, ignores a
    /// `+tag` and the separators '-', '_' and '.'.
    pub fn is_role_local(&self, local_part: &str) -> bool {
        let k = key(local_part);
        !k.is_empty() && self.names.contains(&k)
    }

    pub fn is_role(&self, addr: &EmailAddress) -> bool {
        self.is_role_local(addr.base_local_part())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2142_names_are_roles() {
        let roles = RoleAddresses::default();
        for name in RFC_2142 {
            assert!(roles.is_role_local(name), "{name}");
        }
    }

    #[test]
    fn curated_list_is_a_reasonable_size() {
        let n = RoleAddresses::default().names.len();
        assert!((80..=200).contains(&n), "{n} role names");
    }

    #[test]
    fn case_tag_and_separators_do_not_matter() {
        let roles = RoleAddresses::default();
        for local in [
            "INFO",
            "Info+shop",
            "no-reply",
            "no_reply",
            "no.reply",
            "noreply",
            "NoReply+x",
            "mailer-daemon",
            "MAILER_DAEMON",
            "do-not-reply",
            "donotreply",
            "sales-team",
            "salesteam",
            "Büro",
        ] {
            assert!(roles.is_role_local(local), "{local}");
        }
    }

    #[test]
    fn personal_names_are_not_roles() {
        let roles = RoleAddresses::default();
        for local in
            ["jane", "jane.doe", "j.doe", "max", "anna", "peter", "infor", "salesman", "teamlead", "", "+info", "-"]
        {
            assert!(!roles.is_role_local(local), "{local:?}");
        }
    }

    #[test]
    fn operator_can_extend() {
        let roles = RoleAddresses::default().with_extra(["Zentrale", " empfang@ ", ""]);
        assert!(roles.is_role_local("zentrale"));
        assert!(roles.is_role_local("EMPFANG+x"));
        assert!(roles.is_role_local("info"));
        // The shared built-in list is unchanged.
        assert!(!RoleAddresses::default().is_role_local("zentrale"));
    }

    #[test]
    fn is_role_on_addresses() {
        let roles = RoleAddresses::default();
        let a = EmailAddress::parse("Webmaster+2024@example.com").unwrap();
        assert!(roles.is_role(&a));
        let b = EmailAddress::parse("\"info\"@example.com").unwrap();
        assert!(roles.is_role(&b), "needless quotes must not hide a role");
        let c = EmailAddress::parse("jane@example.com").unwrap();
        assert!(!roles.is_role(&c));
    }
}
