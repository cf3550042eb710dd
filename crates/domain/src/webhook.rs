//! What a merchant's backend is told about its orders: one event per entry of an order's
//! history, typed by what the entry means, with a snapshot of the order as it was saved.
//!
//! The storage adapter derives these events from the history entries it stores and writes them
//! to its outbox in the same transaction (so a saved change always has its event, and an event
//! always has its change); the application delivers them to the configured endpoints.

use std::fmt;

use serde::Serialize;

use crate::order::{HistoryEntry, Order, OrderState};
use crate::{OrderKey, Timestamp};

/// The type of an order event, as the merchant's endpoint sees it (`type` of the envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EventType {
    /// The order was created (its first history entry).
    OrderCreated,
    /// The order moved to another state not covered by a more specific type.
    OrderStateChanged,
    /// Something was recorded without a change of state (a rejection sent to the buyer, a card
    /// code learned, the buyer authorizing after a rejection).
    OrderUpdated,
    /// The tax invoice was issued (the order reached `issued`).
    InvoiceIssued,
    /// The invoice card reached the buyer's Cards & Offers (`delivered`).
    CardDelivered,
    /// The card's reimbursement status changed (a status push, or the card cancelled after a
    /// reversal).
    ReimbursementChanged,
    /// The order needs an operator (`needs_attention`).
    NeedsAttention,
    /// The red invoice reversing the order's invoice was issued (`reversed`).
    InvoiceReversed,
}

impl EventType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [EventType; 8] = [
        EventType::OrderCreated,
        EventType::OrderStateChanged,
        EventType::OrderUpdated,
        EventType::InvoiceIssued,
        EventType::CardDelivered,
        EventType::ReimbursementChanged,
        EventType::NeedsAttention,
        EventType::InvoiceReversed,
    ];

    /// The wire name (`order.created`, `invoice.issued`, …).
    pub fn code(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderStateChanged => "order.state_changed",
            EventType::OrderUpdated => "order.updated",
            EventType::InvoiceIssued => "invoice.issued",
            EventType::CardDelivered => "card.delivered",
            EventType::ReimbursementChanged => "card.reimbursement_changed",
            EventType::NeedsAttention => "order.needs_attention",
            EventType::InvoiceReversed => "invoice.reversed",
        }
    }

    /// The type with this wire name.
    pub fn parse(code: &str) -> Option<Self> {
        EventType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// What a history entry means. Same-state entries are reimbursement changes when the cause
    /// says so (the only same-state entries that touch the card's status), otherwise updates.
    pub fn of(entry: &HistoryEntry) -> Self {
        let Some(from) = entry.from else {
            return EventType::OrderCreated;
        };
        if from == entry.to {
            return if entry.cause.starts_with(REIMBURSEMENT_CAUSE)
                || entry.cause == CARD_CANCELLED_CAUSE
            {
                EventType::ReimbursementChanged
            } else {
                EventType::OrderUpdated
            };
        }
        match entry.to {
            OrderState::NeedsAttention => EventType::NeedsAttention,
            OrderState::Issued => EventType::InvoiceIssued,
            OrderState::Delivered => EventType::CardDelivered,
            OrderState::Reversed => EventType::InvoiceReversed,
            _ => EventType::OrderStateChanged,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The cause the state machine records for a reimbursement status change.
pub(crate) const REIMBURSEMENT_CAUSE: &str = "reimbursement ";
/// The cause the state machine records when a reversed order's card is cancelled.
pub(crate) const CARD_CANCELLED_CAUSE: &str = "card set to INVOICE_REIMBURSE_CANCEL";

/// Which event types an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelection {
    /// Every type (`events = ["*"]`).
    All,
    /// Only these.
    Only(Vec<EventType>),
}

impl EventSelection {
    /// Parses `events` of an endpoint: `*` or wire names; an unknown name is an error naming it.
    ///
    /// # Errors
    /// The unknown name, or an empty list.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("is empty: list event types or \"*\"".to_owned());
        }
        let mut types = Vec::new();
        for name in names {
            let name = name.as_ref();
            if name == "*" {
                return Ok(EventSelection::All);
            }
            let Some(t) = EventType::parse(name) else {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.code()).collect();
                return Err(format!(
                    "unknown event type {name:?}; known: \"*\", {}",
                    known.join(", ")
                ));
            };
            if !types.contains(&t) {
                types.push(t);
            }
        }
        Ok(EventSelection::Only(types))
    }

    /// Whether `event_type` is selected.
    pub fn includes(&self, event_type: EventType) -> bool {
        match self {
            EventSelection::All => true,
            EventSelection::Only(types) => types.contains(&event_type),
        }
    }
}

/// One event of one order, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    /// The order.
    pub key: OrderKey,
    /// The history entry's sequence (1-based, contiguous per order).
    pub sequence: u32,
    /// What it means.
    pub event_type: EventType,
    /// When the change happened.
    pub at: Timestamp,
    /// The `data` of the envelope.
    pub data: EventData,
}

/// The order as the event describes it. Money is decimal yuan strings, times are ISO 8601 in
/// China Standard Time, as in the merchant API's order view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventData {
    /// The platform the order belongs to.
    pub s_pappid: String,
    /// The merchant's order id.
    pub order_id: String,
    /// `h5`, `qr`, `app`, `mini_program` or `post_payment`.
    pub scenario: &'static str,
    /// The seller.
    pub seller: String,
    /// The history entry's sequence: contiguous from 1 per order.
    pub sequence: u32,
    /// The state before (`null` for `order.created`).
    pub from_state: Option<&'static str>,
    /// The state after this entry.
    pub state: &'static str,
    /// What caused it, in words.
    pub cause: String,
    /// When it happened.
    pub at: String,
    /// The blue invoice, once issued.
    pub invoice: Option<EventInvoice>,
    /// The card, once inserted.
    pub card: Option<EventCard>,
    /// Why the order needs an operator, while it does.
    pub attention: Option<String>,
    /// The reversal, once asked for.
    pub reversal: Option<EventReversal>,
}

/// An invoice as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventInvoice {
    /// Its number.
    pub number: String,
    /// When it was issued.
    pub issued_at: String,
    /// Amount excluding tax (yuan).
    pub amount_excl: String,
    /// Tax (yuan).
    pub tax: String,
    /// Total (yuan).
    pub total: String,
}

/// A card as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventCard {
    /// The card template.
    pub card_id: String,
    /// Its code (`null` while an insert's lost answer leaves it unknown).
    pub code: Option<String>,
    /// The reimbursement status (`INVOICE_REIMBURSE_INIT`, …).
    pub reimbursement: &'static str,
}

/// A reversal as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReversal {
    /// Why.
    pub reason: String,
    /// The red invoice, once issued.
    pub red_invoice: Option<EventInvoice>,
}

fn invoice_of(inv: &crate::IssuedInvoice) -> EventInvoice {
    EventInvoice {
        number: inv.number.to_string(),
        issued_at: inv.issued_at.to_string(),
        amount_excl: inv.totals.amount_excl.to_yuan_string(),
        tax: inv.totals.tax.to_yuan_string(),
        total: inv.totals.total.to_yuan_string(),
    }
}

/// The events of `order`'s history entries after sequence `after` (0 for all), in order. The
/// snapshot fields (invoice, card, attention, reversal) are the order's as it is saved with
/// those entries.
pub fn events_since(order: &Order, after: u32) -> Vec<OrderEvent> {
    order
        .history()
        .iter()
        .filter(|entry| entry.seq > after)
        .map(|entry| OrderEvent {
            key: order.key().clone(),
            sequence: entry.seq,
            event_type: EventType::of(entry),
            at: entry.at,
            data: EventData {
                s_pappid: order.key().s_pappid.as_str().to_owned(),
                order_id: order.key().order_id.as_str().to_owned(),
                scenario: order.scenario().code(),
                seller: order.seller().as_str().to_owned(),
                sequence: entry.seq,
                from_state: entry.from.map(OrderState::code),
                state: entry.to.code(),
                cause: entry.cause.clone(),
                at: entry.at.to_string(),
                invoice: order.invoice().map(invoice_of),
                card: order.card().map(|card| EventCard {
                    card_id: card.card_id.as_str().to_owned(),
                    code: card.code.as_ref().map(|code| code.as_str().to_owned()),
                    reimbursement: card.reimbursement.code(),
                }),
                attention: order
                    .attention_details()
                    .filter(|_| order.state() == OrderState::NeedsAttention)
                    .map(|a| a.reason.to_string()),
                reversal: order.reversal().map(|r| EventReversal {
                    reason: r.reason.label().to_owned(),
                    red_invoice: r.red_invoice.as_ref().map(invoice_of),
                }),
            },
        })
        .collect()
}
