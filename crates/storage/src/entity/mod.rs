//! sea-orm entities, one module per table.
//!
//! These types are private to the crate: repositories map each `Model` to and from domain types
//! by hand, so no entity ever appears in a public signature.
//! Columns follow the migrations in `crate::migration`; timestamps are Unix milliseconds
//! (`i64`) and money is integer fen (`i64`), never a decimal column.

pub(crate) mod card_template;
pub(crate) mod console_session;
pub(crate) mod inbox_event;
pub(crate) mod invoice_order;
pub(crate) mod job;
pub(crate) mod numbering_counter;
pub(crate) mod order_history;
pub(crate) mod sandbox_ledger;
pub(crate) mod setup_state;
pub(crate) mod token_cache;
pub(crate) mod webhook_delivery;
pub(crate) mod webhook_event;
