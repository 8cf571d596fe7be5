//! Why an event or a configuration was refused. Errors are values that name what is wrong;
//! the detector never panics on input, so a host can report one event and go on to the next.

use std::fmt;

/// The class of a failure, mirrored one to one by the WIT `error-kind` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Empty,
    InvalidUtf8,
    TooLarge,
    TooDeep,
    BrokenJson,
    BrokenXml,
    UnknownShape,
    BadConfig,
    Internal,
}

impl ErrorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty",
            ErrorKind::InvalidUtf8 => "invalid-utf8",
            ErrorKind::TooLarge => "too-large",
            ErrorKind::TooDeep => "too-deep",
            ErrorKind::BrokenJson => "broken-json",
            ErrorKind::BrokenXml => "broken-xml",
            ErrorKind::UnknownShape => "unknown-shape",
            ErrorKind::BadConfig => "bad-config",
            ErrorKind::Internal => "internal",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScanError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ScanError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ScanError { kind, message: message.into() }
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for ScanError {}
