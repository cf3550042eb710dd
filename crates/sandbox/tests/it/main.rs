//! The sandbox served on a local port and driven with the Weixin adapter's client.

mod control;
mod faults;
mod fidelity;
mod flow;
mod leniency;
mod merchant;
mod pages;
mod platform;
mod pushes;
mod support;
mod tokens;
