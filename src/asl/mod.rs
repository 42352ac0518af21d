//! The typed Amazon States Language model.
