//! Shared test harnesses.
#![allow(dead_code)]

pub mod api;
pub mod db;
pub mod receiver;
pub mod stack;
