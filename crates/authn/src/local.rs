//! Local users: the store's Argon2id hash, under the credential policy (SPEC §5, 000 step 6).
//!
//! A locked user is refused while the lock lasts, whatever the password (still verified, for
//! timing); a wrong password counts a failure and at the threshold locks the user for the
//! lockout duration (the count starts again then); the right password clears the count. A
//! disabled user is told so only once the password was right.

use switchboard_store::model::UserSource;
use switchboard_store::UserCredentials;
use switchboard_trace::{Signal, TraceEvent};
use time::OffsetDateTime;

use crate::{AuthFailure, AuthenticatedUser, Authenticator};

/// A well-formed Argon2id hash (the parameters `switchboard_auth::password::hash` uses) that no
/// password matches: verified in place of a missing one, so that unknown users take as long.
pub(crate) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmQtZHVtbXk$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

const THRESHOLD: &str = "CredentialPolicyFailedLogonThreshold";
const LOCKOUT_MINUTES: &str = "CredentialPolicyLockoutMinutes";

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) async fn authenticate(
    auth: &Authenticator,
    signal: &mut Signal,
    user: UserCredentials,
    password: &str,
) -> Result<AuthenticatedUser, AuthFailure> {
    let now = auth.now();
    let locked_until = user
        .locked_until
        .as_deref()
        .and_then(switchboard_store::unix_of)
        .filter(|until| *until > now);
    let hash = user.password_hash.as_deref().unwrap_or(DUMMY_HASH);
    let right = auth.verify(password, hash).await;
    if let Some(until) = locked_until {
        return Err(AuthFailure::LockedOut { until: at(until) });
    }
    if user.password_hash.is_none() {
        return Err(AuthFailure::PasswordNotSet);
    }
    if !right {
        count_failure(auth, signal, &user.userid, now).await?;
        return Err(AuthFailure::WrongPassword);
    }
    if !user.enabled {
        return Err(AuthFailure::UserDisabled);
    }
    if user.failed_logons != 0 || user.locked_until.is_some() {
        auth.store()
            .clear_failed_logons(&user.userid)
            .await
            .map_err(|e| AuthFailure::Store(e.to_string()))?;
    }
    Ok(AuthenticatedUser {
        userid: user.userid,
        source: UserSource::Local,
    })
}

/// Counts a wrong password; traces the lockout it may cause.
async fn count_failure(
    auth: &Authenticator,
    signal: &mut Signal,
    userid: &str,
    now: i64,
) -> Result<(), AuthFailure> {
    let store = auth.store();
    let param = |name| async move {
        store
            .param_i64(name)
            .await
            .map_err(|e| AuthFailure::Store(e.to_string()))
    };
    let threshold = param(THRESHOLD).await?;
    let minutes = param(LOCKOUT_MINUTES).await?;
    let until = switchboard_store::time_text(now + minutes * 60);
    let failed = store
        .record_failed_logon(userid, threshold, &until)
        .await
        .map_err(|e| AuthFailure::Store(e.to_string()))?;
    if let Some(until) = failed.locked_until {
        signal.emit_default(&TraceEvent::LocalUserLockedOut {
            userid: userid.into(),
            failures: failed.failed_logons.clamp(0, u32::MAX as i64) as u32,
            until,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_costs_what_a_real_one_costs() {
        let real = switchboard_auth::password::hash("anything").unwrap();
        let params = |h: &str| h.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(DUMMY_HASH), params(&real));
        assert_eq!(DUMMY_HASH.split('$').nth(1), real.split('$').nth(1));
        assert!(!switchboard_auth::password::verify("", DUMMY_HASH));
        assert!(!switchboard_auth::password::verify("anything", DUMMY_HASH));
        // It parses, so verifying it runs Argon2 in full rather than failing early.
        let parsed = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
    }
}
