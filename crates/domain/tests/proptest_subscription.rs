//! Properties of the subscription state machine over arbitrary event
//! sequences.

use assent_domain::{SubscriptionEvent, SubscriptionStatus, Transition};
use proptest::prelude::*;

fn event() -> impl Strategy<Value = SubscriptionEvent> {
    prop::sample::select(SubscriptionEvent::ALL.to_vec())
}

fn status() -> impl Strategy<Value = SubscriptionStatus> {
    prop::sample::select(SubscriptionStatus::ALL.to_vec())
}

/// Applies an event the way the store does: an illegal event is refused and
/// leaves the status as it was.
fn step(s: SubscriptionStatus, e: SubscriptionEvent) -> SubscriptionStatus {
    match s.apply(e) {
        Ok(Transition::To(next)) => next,
        Ok(Transition::Unchanged) | Err(_) => s,
    }
}

proptest! {
    #[test]
    fn confirmed_is_never_downgraded_to_pending(
        events in prop::collection::vec(event(), 0..40),
    ) {
        let mut s = SubscriptionStatus::Confirmed;
        let mut withdrew = false;
        for e in events {
            if s == SubscriptionStatus::Confirmed {
                // A re-submitted form (or repeated click) changes nothing.
                if matches!(e, SubscriptionEvent::Requested | SubscriptionEvent::Confirmed) {
                    prop_assert_eq!(s.apply(e), Ok(Transition::Unchanged));
                }
            }
            let next = step(s, e);
            prop_assert!(
                !(s == SubscriptionStatus::Confirmed && next == SubscriptionStatus::Pending),
                "Confirmed --{:?}--> Pending", e
            );
            withdrew |= next == SubscriptionStatus::Unsubscribed;
            // The only way back to pending is a fresh request after the
            // subscriber withdrew; a form alone never gets there.
            if next == SubscriptionStatus::Pending && s != SubscriptionStatus::Pending {
                prop_assert!(withdrew);
                prop_assert_eq!(s, SubscriptionStatus::Unsubscribed);
                prop_assert_eq!(e, SubscriptionEvent::Requested);
            }
            s = next;
        }
    }

    #[test]
    fn terminal_states_never_become_mailable(
        start in status(),
        events in prop::collection::vec(event(), 0..40),
    ) {
        let mut s = start;
        let mut terminal = s.is_terminal();
        for e in events {
            s = step(s, e);
            if terminal {
                prop_assert!(s.is_terminal(), "left a terminal state by {:?}", e);
                prop_assert!(!s.is_mailable());
            }
            terminal |= s.is_terminal();
        }
    }

    #[test]
    fn erased_is_final_and_always_reachable(start in status(), events in prop::collection::vec(event(), 0..20)) {
        let mut s = step(start, SubscriptionEvent::Erased);
        prop_assert_eq!(s, SubscriptionStatus::Erased);
        for e in events {
            s = step(s, e);
            prop_assert_eq!(s, SubscriptionStatus::Erased);
        }
    }

    #[test]
    fn only_a_confirmation_makes_mailable(start in status(), e in event()) {
        let next = step(start, e);
        if next.is_mailable() && !start.is_mailable() {
            prop_assert_eq!(start, SubscriptionStatus::Pending);
            prop_assert_eq!(e, SubscriptionEvent::Confirmed);
        }
    }
}
