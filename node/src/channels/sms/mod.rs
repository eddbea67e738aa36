//! SMS 1708 through a Kannel gateway (bearerbox + smsbox). The smsbox `sms-service` calls
//! `/channels/sms/kannel` for every message; the answer body is the reply SMS. A citizen files a report with
//! `KOTKUPANG jalan rusak di Oebobo` (keyword routing, kind and anonymity keywords), asks its status with
//! `CEK <code>` and adds to it with `<code> <text>`; the number that sends is the proof of being the
//! reporter, so no tracking secret travels by SMS (except to an anonymous reporter, whose number is kept
//! nowhere). Operations: docs/OPERATIONS.md, "SMS 1708 (Kannel)".
//!
//! | file | concern |
//! | --- | --- |
//! | `kannel.rs` | the HTTP endpoint Kannel calls |
//! | `params.rs` | Kannel's parameters, and the text by its coding and charset |
//! | `message.rs` | what the words of an SMS ask for (pure) |
//! | `keywords.rs` | which node and agency a keyword names |
//! | `service.rs` | [`Gateway`]: one SMS in, one answer out, through the application |
//! | `reply.rs` | the answers, GSM-7, at most three parts |
//! | `phone.rs` | numbers in one canonical form, compared in constant time |
//! | `limit.rs` | the per-sender rate limit |

pub mod kannel;
pub mod keywords;
pub mod limit;
pub mod message;
pub mod params;
pub mod phone;
pub mod reply;
pub mod service;

pub use service::Gateway;
