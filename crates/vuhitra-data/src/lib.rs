//! Data analytics on DataFusion: loading files of every supported format
//! into tables (with CSV sniffing), profiling them in one streaming pass per
//! question, and running SQL — including the read-only check generated SQL
//! must pass before it runs.

pub mod ask;
pub mod guard;
pub mod load;
pub mod profile;
pub mod report;
mod scan;
mod sketch;

pub use datafusion;
pub use load::{DataError, Format, LoadOptions, Loaded};
pub use profile::{profile, ColumnProfile, Profile};

/// Tables as Arrow IPC stream bytes, the frame cache's format.
pub mod ipc {
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::error::ArrowError;
    use datafusion::arrow::ipc::reader::StreamReader;
    use datafusion::arrow::ipc::writer::StreamWriter;

    pub fn encode(batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
        let Some(first) = batches.first() else { return Ok(Vec::new()) };
        let mut buf = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut buf, &first.schema())?;
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Ok(buf)
    }

    pub fn decode(bytes: &[u8]) -> Result<Vec<RecordBatch>, ArrowError> {
        StreamReader::try_new(std::io::Cursor::new(bytes), None)?.collect()
    }
}
