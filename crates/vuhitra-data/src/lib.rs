//! Data analytics on DataFusion: loading files of every supported format
//! into tables (with CSV sniffing), profiling them in one streaming pass per
//! question, and running SQL — including the read-only check generated SQL
//! must pass before it runs.

pub mod ask;
pub mod guard;
pub mod load;
pub mod profile;

pub use datafusion;
pub use load::{DataError, Format, LoadOptions, Loaded};
pub use profile::{profile, ColumnProfile, Profile};
