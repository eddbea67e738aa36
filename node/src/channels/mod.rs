//! Channels that are not web pages or the JSON API: each turns what it received into an
//! [`Intake`](crate::app::Intake) or a lifecycle command and calls the application, like every surface.

pub mod sms;
