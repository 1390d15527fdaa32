//! Signing decision records as compact JWS (ES256), with a local key file or a KMS
//! asymmetric key, and the JWKS that verifies them: the current key and every retired
//! key still listed in the configuration, so decisions signed before a rotation stay
//! verifiable. Both signers build the same JWS (`crate::verify` checks either).

use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hanko_api::DecisionRecord;
use serde_json::{Value, json};

use crate::keys::{EcKey, EcPublicKey};

/// The `typ` header of a signed decision record.
pub const DECISION_TYP: &str = "hanko-decision+jwt";

/// KMS signs a `RAW` message of at most this many bytes; longer signing inputs (a
/// decision with many long comments) are hashed here and sent as a `DIGEST`.
pub const KMS_RAW_LIMIT: usize = 4096;

#[async_trait]
pub trait Signer: Send + Sync + 'static {
    /// The `kid` of the key that signs new decisions.
    fn kid(&self) -> &str;

    /// `{"keys": [...]}`: the current public key first, then the retired ones.
    fn jwks(&self) -> Value;

    /// A compact JWS (ES256, `kid`, `typ: hanko-decision+jwt`) of `record`.
    async fn sign(&self, record: &DecisionRecord) -> anyhow::Result<String>;
}

/// `BASE64URL(header) || '.' || BASE64URL(payload)`: what the signature covers.
pub fn signing_input(kid: &str, record: &DecisionRecord) -> anyhow::Result<String> {
    let header = json!({"alg": "ES256", "typ": DECISION_TYP, "kid": kid});
    let payload = serde_json::to_vec(record).context("serializing the decision record")?;
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload)
    ))
}

/// Appends the 64-byte `r || s` signature to its signing input.
fn compact(input: String, signature: &[u8]) -> anyhow::Result<String> {
    if signature.len() != 64 {
        bail!("an ES256 signature has 64 bytes, got {}", signature.len());
    }
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn jwks_of<'a>(keys: impl IntoIterator<Item = &'a EcPublicKey>) -> Value {
    json!({"keys": keys.into_iter().map(EcPublicKey::jwk).collect::<Vec<_>>()})
}

/// Converts a DER `ECDSA-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`, what KMS
/// returns) to the fixed 64-byte `r || s` form of JWS (RFC 7518 section 3.4).
pub fn der_to_jose(der: &[u8]) -> anyhow::Result<[u8; 64]> {
    let sig = p256::ecdsa::Signature::from_der(der)
        .map_err(|_| anyhow!("KMS returned a signature that is not a DER ECDSA P-256 signature"))?;
    let mut out = [0u8; 64];
    out.copy_from_slice(&sig.to_bytes());
    Ok(out)
}

/// Signs with a key file (`HANKO_SIGNING_KEY`); retired keys (`HANKO_PREVIOUS_SIGNING_KEYS`)
/// are only published.
pub struct LocalSigner {
    current: EcKey,
    previous: Vec<EcPublicKey>,
}

impl LocalSigner {
    pub fn new(current: EcKey, previous: Vec<EcPublicKey>) -> Self {
        let mut previous = previous;
        previous.retain(|p| p.kid() != current.kid());
        previous.dedup_by(|a, b| a.kid() == b.kid());
        Self { current, previous }
    }
}

#[async_trait]
impl Signer for LocalSigner {
    fn kid(&self) -> &str {
        self.current.kid()
    }

    fn jwks(&self) -> Value {
        jwks_of(std::iter::once(self.current.public_key()).chain(&self.previous))
    }

    async fn sign(&self, record: &DecisionRecord) -> anyhow::Result<String> {
        let input = signing_input(self.current.kid(), record)?;
        let sig = self.current.sign_raw(input.as_bytes())?;
        compact(input, &sig)
    }
}

/// Signs with a KMS asymmetric key (ECC_NIST_P256, ECDSA_SHA_256). The public keys are
/// fetched once, when the signer is made; signing is one `Sign` call per decision.
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key_id: String,
    current: EcPublicKey,
    previous: Vec<EcPublicKey>,
}

impl KmsSigner {
    /// Reads the public keys of `key_id` (signs) and `previous_key_ids` (published).
    pub async fn new(
        client: aws_sdk_kms::Client,
        key_id: &str,
        previous_key_ids: &[String],
    ) -> anyhow::Result<Self> {
        let current = public_key(&client, key_id)
            .await
            .with_context(|| format!("HANKO_KMS_KEY_ID {key_id}"))?;
        let mut previous: Vec<EcPublicKey> = Vec::new();
        for id in previous_key_ids {
            let p = public_key(&client, id)
                .await
                .with_context(|| format!("HANKO_PREVIOUS_KMS_KEY_IDS {id}"))?;
            if p.kid() != current.kid() && !previous.iter().any(|q| q.kid() == p.kid()) {
                previous.push(p);
            }
        }
        tracing::info!(
            key_id,
            kid = current.kid(),
            previous = previous.len(),
            "signing decisions with KMS"
        );
        Ok(Self {
            client,
            key_id: key_id.to_string(),
            current,
            previous,
        })
    }
}

async fn public_key(client: &aws_sdk_kms::Client, key_id: &str) -> anyhow::Result<EcPublicKey> {
    let out = client
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_kms::error::DisplayErrorContext(e)))
        .context("KMS GetPublicKey")?;
    if let Some(spec) = out.key_spec()
        && *spec != KeySpec::EccNistP256
    {
        bail!("the key is {spec}, not ECC_NIST_P256");
    }
    if let Some(usage) = out.key_usage()
        && *usage != KeyUsageType::SignVerify
    {
        bail!("the key's usage is {usage}, not SIGN_VERIFY");
    }
    if !out.signing_algorithms().is_empty()
        && !out
            .signing_algorithms()
            .contains(&SigningAlgorithmSpec::EcdsaSha256)
    {
        bail!("the key cannot sign with ECDSA_SHA_256");
    }
    let der = out.public_key().context("GetPublicKey returned no key")?;
    EcPublicKey::from_spki_der(der.as_ref())
}

#[async_trait]
impl Signer for KmsSigner {
    fn kid(&self) -> &str {
        self.current.kid()
    }

    fn jwks(&self) -> Value {
        jwks_of(std::iter::once(&self.current).chain(&self.previous))
    }

    async fn sign(&self, record: &DecisionRecord) -> anyhow::Result<String> {
        let input = signing_input(self.current.kid(), record)?;
        let (message, kind) = if input.len() <= KMS_RAW_LIMIT {
            (input.as_bytes().to_vec(), MessageType::Raw)
        } else {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
            (d.as_ref().to_vec(), MessageType::Digest)
        };
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(kind)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_kms::error::DisplayErrorContext(e)))
            .context("KMS Sign")?;
        let der = out.signature().context("KMS Sign returned no signature")?;
        compact(input, &der_to_jose(der.as_ref())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER-encodes `r` and `s` (big-endian, any length) the way KMS does.
    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        fn int(v: &[u8]) -> Vec<u8> {
            let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
            if v.is_empty() || v[0] & 0x80 != 0 {
                v.insert(0, 0);
            }
            let mut out = vec![0x02, v.len() as u8];
            out.extend(v);
            out
        }
        let body = [int(r), int(s)].concat();
        let mut out = vec![0x30];
        if body.len() >= 0x80 {
            out.push(0x81);
        }
        out.push(body.len() as u8);
        out.extend(body);
        out
    }

    #[test]
    fn a_der_signature_becomes_r_then_s_each_left_padded_to_32_bytes() {
        // High bit set (DER adds a leading zero), and below the curve order as every r is.
        let r = [0xfeu8; 32];
        let mut s = [0u8; 32];
        s[2] = 0x01;
        s[31] = 0x42;
        let jose = der_to_jose(&der(&r, &s)).unwrap();
        assert_eq!(&jose[..32], &r);
        assert_eq!(&jose[32..], &s);
        // r with a high bit gets a leading zero in DER: 33 bytes, 72 bytes in all.
        assert_eq!(der(&r, &s)[1] as usize + 2, der(&r, &s).len());
    }

    #[test]
    fn malformed_der_signatures_are_refused() {
        let good = der(&[7u8; 32], &[9u8; 32]);
        assert!(der_to_jose(&good).is_ok());
        assert!(der_to_jose(&good[..good.len() - 1]).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(der_to_jose(&trailing).is_err());
        assert!(der_to_jose(&der(&[1u8; 33], &[1u8; 32])).is_err());
        let mut negative = good.clone();
        negative[4] = 0x80;
        assert!(der_to_jose(&negative).is_err());
        assert!(der_to_jose(&[0x30, 0x00]).is_err());
        assert!(der_to_jose(b"not der").is_err());
    }
}
