//! Keys: this cluster's ES256 (P-256) signing keys — generated with ring as PKCS#8, published
//! as JWKs whose `kid` is the RFC 7638 thumbprint — and the public keys of external issuers,
//! read from their JWKS (EC P-256 and RSA ≥ 2048 bits; symmetric and private keys refused).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_store::StoreError;

use crate::error::OAuthError;

/// The algorithm of every key this cluster signs with.
pub const SIGNING_ALGORITHM: &str = "ES256";

/// A new signing key.
pub struct GeneratedKey {
    pub kid: String,
    /// PKCS#8 DER, base64 (standard), as the store seals it.
    pub private_key: String,
    /// The public JWK.
    pub public_jwk: Value,
}

/// Generates an ES256 key pair.
pub fn generate() -> Result<GeneratedKey, OAuthError> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| OAuthError::Key("cannot generate a P-256 key".into()))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| OAuthError::Key("generated key does not parse".into()))?;
    let point = pair.public_key().as_ref();
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65]),
    );
    let kid = thumbprint(&x, &y);
    let public_jwk = json!({
        "kty": "EC", "crv": "P-256", "x": x, "y": y,
        "kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig",
    });
    Ok(GeneratedKey {
        kid,
        private_key: base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref()),
        public_jwk,
    })
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC P-256 public key.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The signing half of a stored key.
pub fn encoding_key(private_key_b64: &str) -> Option<EncodingKey> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(private_key_b64)
        .ok()?;
    // Parse once here so that a corrupt key is found at load, not at the first signature.
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new()).ok()?;
    Some(EncodingKey::from_ec_der(&der))
}

/// A public key that verifies tokens, with the one algorithm it accepts.
#[derive(Clone)]
pub struct VerifyKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyKey({:?})", self.algorithm)
    }
}

fn invalid(index: usize, member: &str, rule: impl Into<String>) -> StoreError {
    let field = if member.is_empty() {
        format!("jwks.keys[{index}]")
    } else {
        format!("jwks.keys[{index}].{member}")
    };
    StoreError::invalid(field, rule)
}

fn b64_member(jwk: &Value, index: usize, member: &str) -> Result<Vec<u8>, StoreError> {
    let text = jwk
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(index, member, "missing (a base64url string)"))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid(index, member, "not base64url without padding"))
}

/// Reads one public JWK: `(kid, key)`. `index` names it in errors.
pub fn parse_jwk(jwk: &Value, index: usize) -> Result<(String, VerifyKey), StoreError> {
    let kid = jwk
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .ok_or_else(|| invalid(index, "kid", "missing (1 to 128 characters)"))?
        .to_string();
    if jwk.get("d").is_some() || jwk.get("p").is_some() {
        return Err(invalid(
            index,
            "d",
            "this is a private key: give the issuer's public keys only",
        ));
    }
    if let Some(usage) = jwk.get("use") {
        if usage.as_str() != Some("sig") {
            return Err(invalid(index, "use", "must be \"sig\" when present"));
        }
    }
    let alg = jwk.get("alg").and_then(Value::as_str);
    let key = match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err(invalid(index, "crv", "only P-256 EC keys are accepted"));
            }
            if !matches!(alg, None | Some("ES256")) {
                return Err(invalid(index, "alg", "a P-256 key signs with ES256"));
            }
            let (x, y) = (b64_member(jwk, index, "x")?, b64_member(jwk, index, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(invalid(index, "x", "P-256 coordinates are 32 bytes each"));
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            // A point off the curve is not caught here (ring checks points when verifying):
            // it would verify nothing.
            let key = DecodingKey::from_ec_components(
                &URL_SAFE_NO_PAD.encode(&x),
                &URL_SAFE_NO_PAD.encode(&y),
            )
            .map_err(|_| invalid(index, "x", "not a P-256 point"))?;
            VerifyKey {
                algorithm: Algorithm::ES256,
                key,
            }
        }
        Some("RSA") => {
            let algorithm = match alg.unwrap_or("RS256") {
                "RS256" => Algorithm::RS256,
                "RS384" => Algorithm::RS384,
                "RS512" => Algorithm::RS512,
                "PS256" => Algorithm::PS256,
                "PS384" => Algorithm::PS384,
                "PS512" => Algorithm::PS512,
                _ => {
                    return Err(invalid(
                        index,
                        "alg",
                        "an RSA key signs with RS256, RS384, RS512, PS256, PS384 or PS512",
                    ))
                }
            };
            let n = b64_member(jwk, index, "n")?;
            let e = b64_member(jwk, index, "e")?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                return Err(invalid(
                    index,
                    "n",
                    "RSA keys of 2048 to 8192 bits are accepted",
                ));
            }
            VerifyKey {
                algorithm,
                key: DecodingKey::from_rsa_raw_components(&n, &e),
            }
        }
        Some("oct") => return Err(invalid(
            index,
            "kty",
            "symmetric (oct) keys are refused: tokens must be signed with a public-key algorithm",
        )),
        _ => return Err(invalid(index, "kty", "EC (P-256) or RSA")),
    };
    Ok((kid, key))
}

/// Reads a JWKS (`{"keys": [...]}`) into `(kid, key)` pairs; every key must be usable.
pub fn parse_jwks(jwks: &Value) -> Result<Vec<(String, VerifyKey)>, StoreError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .filter(|k| !k.is_empty() && k.len() <= switchboard_store::validate::MAX_JWKS_KEYS)
        .ok_or_else(|| {
            StoreError::invalid(
                "jwks",
                "a JSON Web Key Set: {\"keys\": [...]} with 1 to 20 keys",
            )
        })?;
    keys.iter()
        .enumerate()
        .map(|(i, jwk)| parse_jwk(jwk, i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_publish() {
        let key = generate().unwrap();
        assert_eq!(key.public_jwk["kid"], key.kid.as_str());
        assert_eq!(key.kid.len(), 43, "SHA-256 thumbprint, base64url");
        assert!(key.public_jwk.get("d").is_none());
        assert!(encoding_key(&key.private_key).is_some());
        assert!(encoding_key("bm90IGEga2V5").is_none());
        let (kid, verify) = parse_jwk(&key.public_jwk, 0).unwrap();
        assert_eq!((kid, verify.algorithm), (key.kid, Algorithm::ES256));
    }

    #[test]
    fn thumbprint_of_rfc7638_shape() {
        // Same input, same kid; different coordinates, different kid.
        assert_eq!(thumbprint("a", "b"), thumbprint("a", "b"));
        assert_ne!(thumbprint("a", "b"), thumbprint("b", "a"));
    }

    fn field(e: StoreError) -> String {
        match e {
            StoreError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jwks_refusals_name_the_member() {
        let good = generate().unwrap().public_jwk;
        let with = |k: &str, v: Value| {
            let mut j = good.clone();
            j[k] = v;
            field(parse_jwk(&j, 2).unwrap_err())
        };
        assert_eq!(with("d", json!("secret")), "jwks.keys[2].d");
        assert_eq!(with("crv", json!("P-384")), "jwks.keys[2].crv");
        assert_eq!(with("alg", json!("HS256")), "jwks.keys[2].alg");
        assert_eq!(with("use", json!("enc")), "jwks.keys[2].use");
        assert_eq!(with("x", json!("AAAA")), "jwks.keys[2].x");
        assert_eq!(with("kty", json!("oct")), "jwks.keys[2].kty");
        assert_eq!(with("kid", json!("")), "jwks.keys[2].kid");
        let small_rsa = json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128]), "e": "AQAB"});
        assert_eq!(
            field(parse_jwk(&small_rsa, 0).unwrap_err()),
            "jwks.keys[0].n"
        );
        let rsa = json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode([0xffu8; 256]), "e": "AQAB"});
        assert_eq!(parse_jwk(&rsa, 0).unwrap().1.algorithm, Algorithm::RS256);
        assert_eq!(field(parse_jwks(&json!({"keys": []})).unwrap_err()), "jwks");
        assert_eq!(parse_jwks(&json!({"keys": [good, rsa]})).unwrap().len(), 2);
    }
}
