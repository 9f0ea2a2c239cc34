//! One module per page.

pub mod audit;
pub mod health;
pub mod home;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod plan;
pub mod report_view;
pub mod reports;
pub mod requests;
pub mod schedule;
pub mod table;
pub mod users;
pub mod wall;
