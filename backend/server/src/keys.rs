//! P-256 signing keys (ES256): generated on first start, kept as PKCS#8 PEM files, and
//! published as JWKs. Used by the decision signer and by the dev identity provider.

use std::path::Path;

use anyhow::{Context, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, a 65-byte
/// BIT STRING): what KMS `GetPublicKey` returns, followed by the uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The public half of a P-256 key: its JWK coordinates and its `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcPublicKey {
    kid: String,
    x: String,
    y: String,
}

impl EcPublicKey {
    /// From the uncompressed SEC1 point (`04 || x || y`).
    pub fn from_point(point: &[u8]) -> anyhow::Result<Self> {
        if point.len() != 65 || point[0] != 4 {
            bail!("not an uncompressed P-256 point");
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // RFC 7638 thumbprint: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        Ok(Self { kid, x, y })
    }

    /// From a DER SubjectPublicKeyInfo (KMS `GetPublicKey` of an ECC_NIST_P256 key).
    pub fn from_spki_der(der: &[u8]) -> anyhow::Result<Self> {
        match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
            Some(point) => Self::from_point(point),
            None => bail!("not a P-256 public key (SubjectPublicKeyInfo of an ECC_NIST_P256 key)"),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// As a JWK, with its `kid`, for a JWKS.
    pub fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y, "kid": self.kid, "alg": "ES256", "use": "sig"})
    }
}

pub struct EcKey {
    kid: String,
    der: Vec<u8>,
    public: EcPublicKey,
    pair: EcdsaKeyPair,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl EcKey {
    pub fn generate() -> anyhow::Result<Self> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("could not generate a P-256 key"))?;
        Self::from_pkcs8(doc.as_ref())
    }

    pub fn from_pkcs8(der: &[u8]) -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| anyhow::anyhow!("not a P-256 PKCS#8 private key: {e}"))?;
        let public = EcPublicKey::from_point(pair.public_key().as_ref())?;
        let decoding =
            DecodingKey::from_ec_components(&public.x, &public.y).context("public key")?;
        Ok(Self {
            kid: public.kid.clone(),
            der: der.to_vec(),
            public,
            pair,
            encoding: EncodingKey::from_ec_der(der),
            decoding,
        })
    }

    /// Reads the key at `path`, or creates one there (mode 0600) when the file is missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(pem) => Self::from_pem(&pem).with_context(|| format!("key file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // Often the data folder, which also holds the database: 0700 on unix.
                    let mut folder = std::fs::DirBuilder::new();
                    folder.recursive(true);
                    #[cfg(unix)]
                    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
                    folder
                        .create(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                write_private(path, key.to_pem().as_bytes())
                    .with_context(|| format!("writing key file {}", path.display()))?;
                tracing::info!(path = %path.display(), kid = %key.kid, "generated a new signing key");
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("reading key file {}", path.display())),
        }
    }

    /// From a PKCS#8 PEM file: its first `PRIVATE KEY` block (text around it is ignored).
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let block = pem::parse_many(pem)
            .context("not a PEM file")?
            .into_iter()
            .find(|b| b.tag() == "PRIVATE KEY")
            .context("no \"-----BEGIN PRIVATE KEY-----\" block (expected PKCS#8 PEM)")?;
        Self::from_pkcs8(block.contents())
    }

    /// As a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`, 64-column base64, `\n` lines).
    pub fn to_pem(&self) -> String {
        let block = pem::Pem::new("PRIVATE KEY", self.der.as_slice());
        pem::encode_config(
            &block,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> Value {
        self.public.jwk()
    }

    pub fn public_key(&self) -> &EcPublicKey {
        &self.public
    }

    /// ES256 signature of `message`: the 64-byte `r || s` form that JWS uses.
    pub fn sign_raw(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let sig = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(sig.as_ref().to_vec())
    }

    /// A compact JWS of `claims`, with this key's `kid` and the given `typ`.
    pub fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing")
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_a_round_trip_through_its_pem_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/signing.pem");
        let a = EcKey::load_or_create(&path).unwrap();
        let b = EcKey::load_or_create(&path).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.public_jwk(), b.public_jwk());
    }

    #[cfg(unix)]
    #[test]
    fn a_new_key_and_the_folders_made_for_it_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/keys/signing.pem");
        EcKey::load_or_create(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&dir.path().join("data/keys")), 0o700);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_public_key_read_back_from_its_spki_der_has_the_same_kid() {
        let key = EcKey::generate().unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.pair.public_key().as_ref());
        let public = EcPublicKey::from_spki_der(&spki).unwrap();
        assert_eq!(public.kid(), key.kid());
        assert_eq!(public.jwk(), key.public_jwk());
        spki[10] ^= 1;
        assert!(EcPublicKey::from_spki_der(&spki).is_err());
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "hello").unwrap();
        let err = EcKey::load_or_create(&path).unwrap_err();
        assert!(format!("{err:#}").contains("k.pem"));
    }
}
