//! The store's error type: what a caller branches on (invalid input, missing or conflicting
//! object) separated from database failures.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The input broke a rule; `field` names the offending field, `rule` what it must satisfy.
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
    /// The object to read, change or refer to does not exist.
    #[error("{object} '{key}' does not exist")]
    NotFound { object: &'static str, key: String },
    /// The change conflicts with existing data (duplicate key, object still in use).
    #[error("{object} '{key}': {reason}")]
    Conflict {
        object: &'static str,
        key: String,
        reason: String,
    },
    /// A read-only query was refused or failed.
    #[error("query refused: {0}")]
    Query(String),
    /// The database itself failed (connection lost, disk full, ...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// A rule broken by `field`.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub(crate) fn not_found(object: &'static str, key: impl Into<String>) -> Self {
        StoreError::NotFound {
            object,
            key: key.into(),
        }
    }

    pub(crate) fn conflict(
        object: &'static str,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        StoreError::Conflict {
            object,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Turns a unique-key violation into `Conflict`, other errors as they are.
    pub(crate) fn on_insert(object: &'static str, key: &str) -> impl FnOnce(sqlx::Error) -> Self {
        let key = key.to_string();
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::conflict(object, key, "already exists")
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;
