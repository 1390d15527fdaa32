//! Where the operator's approval policy document comes from: a file read at start
//! (`HANKO_POLICY_FILE`), an SSM parameter read at start and again when its copy is older
//! than a short TTL (`HANKO_POLICY_PARAMETER`), or nowhere (the workflow chooses its
//! approvers, as before policies existed; `hanko serve` warns about it).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::domain::PolicyDocument;

/// How long a copy of the SSM parameter is used before it is read again.
pub const SSM_TTL: Duration = Duration::from_secs(60);

pub enum Policies {
    /// No policy document: requests name their own approvers.
    Absent,
    /// A document fixed for the life of the process (a file, or a test's).
    Fixed(Arc<PolicyDocument>),
    /// An SSM parameter, cached.
    Ssm(SsmPolicy),
}

pub struct SsmPolicy {
    client: aws_sdk_ssm::Client,
    name: String,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<PolicyDocument>)>>,
}

impl Policies {
    /// Reads and checks a document file.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the policy document {}", path.display()))?;
        let doc = PolicyDocument::parse(&text)
            .map_err(|e| anyhow::anyhow!("the policy document {}: {e}", path.display()))?;
        Ok(Self::Fixed(Arc::new(doc)))
    }

    /// Reads the parameter once now, so a missing or invalid one stops the start.
    pub async fn from_ssm(client: aws_sdk_ssm::Client, name: String) -> anyhow::Result<Self> {
        let source = SsmPolicy {
            client,
            name,
            ttl: SSM_TTL,
            cached: Mutex::new(None),
        };
        source.fetch().await?;
        Ok(Self::Ssm(source))
    }

    /// The document in force, or `None` when Hanko runs without one. An error (SSM could
    /// not be read and no copy is at hand) means: try the message again later.
    pub async fn document(&self) -> Result<Option<Arc<PolicyDocument>>, String> {
        match self {
            Self::Absent => Ok(None),
            Self::Fixed(d) => Ok(Some(d.clone())),
            Self::Ssm(s) => s.current().await.map(Some),
        }
    }
}

impl SsmPolicy {
    async fn current(&self) -> Result<Arc<PolicyDocument>, String> {
        let held = self.cached.lock().ok().and_then(|g| g.clone());
        if let Some((at, doc)) = &held
            && at.elapsed() < self.ttl
        {
            return Ok(doc.clone());
        }
        match self.fetch().await {
            Ok(doc) => Ok(doc),
            // A passing failure of SSM keeps the last good copy in force.
            Err(e) => match held {
                Some((_, doc)) => {
                    tracing::warn!(parameter = %self.name, error = %format!("{e:#}"), "could not read the policy parameter again; keeping the last copy");
                    Ok(doc)
                }
                None => Err(format!("{e:#}")),
            },
        }
    }

    async fn fetch(&self) -> anyhow::Result<Arc<PolicyDocument>> {
        let out = self
            .client
            .get_parameter()
            .name(&self.name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "reading the policy parameter {}: {}",
                    self.name,
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                )
            })?;
        let text = out
            .parameter()
            .and_then(|p| p.value())
            .with_context(|| format!("the policy parameter {} has no value", self.name))?;
        let doc = Arc::new(
            PolicyDocument::parse(text)
                .map_err(|e| anyhow::anyhow!("the policy parameter {}: {e}", self.name))?,
        );
        if let Ok(mut g) = self.cached.lock() {
            *g = Some((Instant::now(), doc.clone()));
        }
        Ok(doc)
    }
}
