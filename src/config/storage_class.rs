//! The S3 storage class new objects are written with (`storage_class`).

use super::pairs::{parse_choice, Choice};

/// The eight classes the Go connector accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    Standard,
    ReducedRedundancy,
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    Glacier,
    GlacierIr,
    DeepArchive,
}

impl StorageClass {
    /// The `x-amz-storage-class` value.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::ReducedRedundancy => "REDUCED_REDUNDANCY",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::Glacier => "GLACIER",
            StorageClass::GlacierIr => "GLACIER_IR",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    /// The class named `text` (any case), or a message listing the names.
    pub fn parse(text: &str) -> Result<StorageClass, String> {
        parse_choice(text)
    }

    /// Objects in these classes cannot be read without a restore, so the
    /// store is write-only and keeps hot copies of what it must read back
    /// (Go: `isGlacier`). GLACIER_IR reads instantly and is not one of them.
    pub fn is_archive(self) -> bool {
        matches!(self, StorageClass::Glacier | StorageClass::DeepArchive)
    }
}

impl Choice for StorageClass {
    const ALL: &'static [Self] = &[
        StorageClass::Standard,
        StorageClass::ReducedRedundancy,
        StorageClass::StandardIa,
        StorageClass::OnezoneIa,
        StorageClass::IntelligentTiering,
        StorageClass::Glacier,
        StorageClass::GlacierIr,
        StorageClass::DeepArchive,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }
}
