//! Request building: see the core-protocol issue.
