//! One handler per endpoint, grouped by resource. Handlers translate: extract, call the application, shape.

pub mod agencies;
pub mod audit;
pub mod auth;
pub mod categories;
pub mod files;
pub mod health;
pub mod metrics;
pub mod reports;
pub mod stats;
pub mod users;
