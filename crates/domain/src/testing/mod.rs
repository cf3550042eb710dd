//! In-memory fakes of the ports, for tests of the core and of hosts embedding it.
//!
//! They keep state like the real adapters do (versions, leases, dedupe keys, idempotency keys),
//! so state-machine flows can run end to end without I/O. Use mockall mocks instead when a test
//! asserts calls ("the issuer was called once").

mod console;
mod inbox;
mod issuer;
mod orders;
mod stores;
mod system;

pub mod contract;
pub mod fixtures;

pub use console::InMemoryConsoleSessions;
pub use inbox::InMemoryEventInbox;
pub use issuer::{FakeIssuer, FakeIssuerMode};
pub use orders::InMemoryOrderRepository;
pub use stores::{InMemoryNumbering, InMemorySetupStore, InMemoryTokenCache};
pub use system::{ManualClock, SequentialIds};

use std::sync::{Mutex, MutexGuard};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned fake only means another test thread panicked; its data is still usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
