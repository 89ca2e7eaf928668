//! The pure rules of Assent. This crate owns what an address is (RFC 5321
//! lengths, RFC 5322 dot-atom and quoted local parts, IDNA domains per
//! RFC 5890/5891, RFC 2142 role mailboxes), which consent origins are allowed
//! and what evidence each needs (UWG §7, GDPR Art. 7, CSA criteria), the
//! subscription and account life cycles, the DDG §5 imprint, and the hashed
//! suppression key. It does no I/O so it can be property-tested and fuzzed.

pub mod account;
pub mod address;
pub mod bounce;
pub mod compliance;
pub mod consent;
pub mod disposable;
pub mod ids;
pub mod policy;
pub mod role;
pub mod subscription;
pub mod suppression;
pub mod user;

pub use account::{AccountAction, AccountStatus, Imprint, ImprintDraft, ImprintError, LifecycleError};
pub use address::{AddressError, EmailAddress};
pub use consent::{Consent, ConsentOrigin, ConsentRefusal, ForbiddenOrigin};
pub use disposable::DisposableDomains;
pub use ids::{AccountId, ContactId, ListId, OperatorId, TokenId, UserId};
pub use policy::AddressPolicy;
pub use role::RoleAddresses;
pub use subscription::{SubscriptionEvent, SubscriptionStatus, Transition, TransitionError};
pub use suppression::{SuppressionHash, SuppressionReason};
pub use user::UserRole;
