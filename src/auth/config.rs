//! The `auth:` section: sessions and login throttling.

use crate::config::Duration;
use crate::config::decode::Decoder;

crate::config_section! {
    pub struct AuthConfig {
        /// Lifetime of a dashboard session.
        pub session_ttl: Duration = Duration::secs(7 * 86_400),
        /// Mark the session cookie `Secure` (set when serving over HTTPS, e.g. behind a proxy).
        pub secure_cookies: bool = false,
        /// Failed logins (per user name and per client address) allowed before slowing down.
        pub login_free_failures: u32 = 5,
        /// First lock-out after too many failures; doubles with each further failure.
        pub login_backoff: Duration = Duration::secs(1),
        /// Longest lock-out.
        pub login_backoff_max: Duration = Duration::secs(300),
    }
}

pub fn validate(c: &AuthConfig, d: &mut Decoder) {
    if c.login_backoff > c.login_backoff_max {
        d.error_at(
            "auth.login_backoff",
            "must not exceed auth.login_backoff_max",
        );
    }
    if c.session_ttl.get().is_zero() {
        d.error_at("auth.session_ttl", "must be positive");
    }
}
