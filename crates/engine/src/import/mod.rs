//! Contact imports (PRODUCT.md rules 1, 3, 5): a CSV file with a declared
//! consent origin is read as a stream, every row is checked by the domain
//! rules, and accepted rows are applied in batches together with the
//! reading position — so an import that is interrupted resumes exactly
//! where it stopped, and memory stays flat whatever the file size.

pub mod csvread;
pub mod job;
pub mod rows;
pub mod upload;

pub use job::{ImportConfig, Importer, Progress, review_on_upload};
pub use rows::{Header, ImportOptions, RowError, prepare};
pub use upload::{Upload, UploadError, check};
