//! Reading upstream bodies: the envelope's status code, lenient wire types, the tolerant reader
//! of documentation-style JSON, and what every upstream's mapping shares.

pub mod envelope;
pub mod normalize;
pub mod tolerant;
pub mod wire;
