//! Shared test harnesses.
#![allow(dead_code)]

pub mod db;
pub mod stack;
