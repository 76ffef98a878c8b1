//! Signed links: one-click acknowledge links in notifications (page, person, expiry; HMAC-
//! SHA256 under a key kept in the store) and secret calendar URLs. An acknowledge link works
//! once in effect: the first use acknowledges the page, later uses find it acknowledged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

/// Bound on a token as received.
pub const MAX_TOKEN: usize = 512;

/// HMAC-SHA256 (RFC 2104).
pub fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Compares without an early exit (a forged signature learns nothing from timing).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What an acknowledge link stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct AckClaim {
    pub page: u64,
    pub user: String,
    pub expires_ms: u64,
}

pub fn sign_ack(key: &[u8], c: &AckClaim) -> String {
    let mut body = Vec::with_capacity(16 + c.user.len());
    body.extend_from_slice(&c.page.to_be_bytes());
    body.extend_from_slice(&c.expires_ms.to_be_bytes());
    body.extend_from_slice(c.user.as_bytes());
    let mut msg = b"ack\0".to_vec();
    msg.extend_from_slice(&body);
    let sig = hmac(key, &msg);
    format!("{}.{}", B64.encode(&body), B64.encode(&sig[..16]))
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AckError {
    #[error("this link is malformed")]
    Malformed,
    #[error("this link was not issued by this Panoptes")]
    BadSignature,
    #[error("this link has expired")]
    Expired,
}

pub fn verify_ack(key: &[u8], token: &str, now: u64) -> Result<AckClaim, AckError> {
    if token.len() > MAX_TOKEN {
        return Err(AckError::Malformed);
    }
    let (body, sig) = token.split_once('.').ok_or(AckError::Malformed)?;
    let body = B64.decode(body).map_err(|_| AckError::Malformed)?;
    let sig = B64.decode(sig).map_err(|_| AckError::Malformed)?;
    if body.len() < 16 {
        return Err(AckError::Malformed);
    }
    let mut msg = b"ack\0".to_vec();
    msg.extend_from_slice(&body);
    if !same(&hmac(key, &msg)[..16], &sig) {
        return Err(AckError::BadSignature);
    }
    let page = u64::from_be_bytes(body[..8].try_into().map_err(|_| AckError::Malformed)?);
    let expires_ms = u64::from_be_bytes(body[8..16].try_into().map_err(|_| AckError::Malformed)?);
    let user = String::from_utf8(body[16..].to_vec()).map_err(|_| AckError::Malformed)?;
    if now >= expires_ms {
        return Err(AckError::Expired);
    }
    Ok(AckClaim {
        page,
        user,
        expires_ms,
    })
}

/// The secret part of a calendar URL for a schedule (`schedule`) or a person (`user`).
pub fn calendar_token(key: &[u8], kind: &str, name: &str) -> String {
    let msg = format!("ical\0{kind}\0{name}");
    let mac = hmac(key, msg.as_bytes());
    mac[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `token` is the calendar token of (`kind`, `name`).
pub fn calendar_matches(key: &[u8], kind: &str, name: &str, token: &str) -> bool {
    same(calendar_token(key, kind, name).as_bytes(), token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let hex: String = hmac(b"Jefe", b"what do ya want for nothing?")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (test case 6).
        let hex: String = hmac(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        )
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn ack_links_verify_expire_and_resist_tampering() {
        let key = [7u8; 32];
        let c = AckClaim {
            page: 42,
            user: "ana".into(),
            expires_ms: 1000,
        };
        let t = sign_ack(&key, &c);
        assert_eq!(verify_ack(&key, &t, 999), Ok(c.clone()));
        assert_eq!(verify_ack(&key, &t, 1000), Err(AckError::Expired));
        assert_eq!(verify_ack(&[8u8; 32], &t, 0), Err(AckError::BadSignature));
        // Another page or person under the same signature.
        let forged = sign_ack(
            &key,
            &AckClaim {
                page: 43,
                ..c.clone()
            },
        );
        let (body, _) = forged.split_once('.').expect("dot");
        let (_, sig) = t.split_once('.').expect("dot");
        assert_eq!(
            verify_ack(&key, &format!("{body}.{sig}"), 0),
            Err(AckError::BadSignature)
        );
        for bad in ["", ".", "x.y", "AAAA.AAAA", &"a".repeat(600)] {
            assert!(verify_ack(&key, bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn calendar_tokens_are_per_name() {
        let key = [1u8; 32];
        let t = calendar_token(&key, "schedule", "platform");
        assert!(calendar_matches(&key, "schedule", "platform", &t));
        assert!(!calendar_matches(&key, "user", "platform", &t));
        assert!(!calendar_matches(&key, "schedule", "other", &t));
        assert_eq!(t.len(), 32);
    }
}
