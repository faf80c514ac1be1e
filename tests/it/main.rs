//! sohoa's integration tests: one binary, one module per feature.

mod access;
mod authenticity;
mod bad_input;
mod boundaries;
mod browser;
mod classify;
mod cli;
mod crash;
mod damage;
mod faults;
mod incremental;
mod layout_export;
mod pdf_decode;
mod postgres;
mod prepare;
mod questions;
mod raster;
mod real_scans;
mod relevance;
mod samples;
mod search;
mod searchable_pdf;
mod serve;
mod store_contract;
mod support;
mod text_layer;
