//! The IAM side of bootstrap: each role deploy.toml names, with the trust policy and the inline
//! policy `iam` generates (the committed `definitions/iam/` documents). A role whose
//! documents drifted is put back.

use std::fmt;

use super::same_document;
use crate::aws::AwsClients;
use crate::config::{Arn, DeployConfig};
use crate::iam::{IAM_DIR, RoleDocuments};

/// A role as an ARN names it: `arn:aws:iam::ACCOUNT:role/PATH/NAME` is `NAME` under `/PATH/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleName {
    pub arn: String,
    pub path: String,
    pub name: String,
}

impl RoleName {
    pub fn from_arn(arn: &Arn, account: &str) -> anyhow::Result<Self> {
        let parts: Vec<&str> = arn.as_str().splitn(6, ':').collect();
        let resource = match parts.as_slice() {
            [_, _, "iam", "", _, resource] => resource.strip_prefix("role/"),
            _ => None,
        };
        let Some(resource) = resource.filter(|r| !r.is_empty() && !r.ends_with('/')) else {
            anyhow::bail!(
                "{arn} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME); fix it in deploy.toml"
            );
        };
        if parts[4] != account {
            anyhow::bail!(
                "the role {arn} is in account {}, but deploy.toml's account is {account}: bootstrap creates roles in that account only; fix the role ARN or `account`",
                parts[4]
            );
        }
        let (path, name) = match resource.rsplit_once('/') {
            Some((path, name)) => (format!("/{path}/"), name),
            None => ("/".to_owned(), resource),
        };
        Ok(Self {
            arn: arn.to_string(),
            path,
            name: name.to_owned(),
        })
    }
}

/// A role to bootstrap, with its documents.
pub struct DesiredRole {
    pub role: RoleName,
    pub documents: RoleDocuments,
}

/// Every role deploy.toml names, checked (an IAM role ARN in deploy.toml's account).
pub fn desired(config: &DeployConfig) -> anyhow::Result<Vec<DesiredRole>> {
    let mut roles = Vec::new();
    for documents in crate::iam::roles(config) {
        for arn in &documents.role_arns {
            roles.push(DesiredRole {
                role: RoleName::from_arn(arn, config.account.as_str())?,
                documents: documents.clone(),
            });
        }
    }
    Ok(roles)
}

/// One IAM write.
pub enum RoleStep {
    Create {
        role: RoleName,
        trust: String,
        kind: &'static str,
    },
    PutBackTrust {
        role: RoleName,
        trust: String,
        kind: &'static str,
    },
    PutPolicy {
        role: RoleName,
        policy_name: String,
        policy: String,
        kind: &'static str,
        /// The role had the policy, with other contents.
        drifted: bool,
    },
}

impl fmt::Display for RoleStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleStep::Create { role, kind, .. } => write!(
                f,
                "create the role {} (trust: {IAM_DIR}/{kind}-trust.json)",
                role.arn
            ),
            RoleStep::PutBackTrust { role, kind, .. } => write!(
                f,
                "put back the trust policy of the role {} (it differs from {IAM_DIR}/{kind}-trust.json)",
                role.arn
            ),
            RoleStep::PutPolicy {
                role,
                policy_name,
                kind,
                drifted: true,
                ..
            } => write!(
                f,
                "put back the inline policy {policy_name} of the role {} (it differs from {IAM_DIR}/{kind}-policy.json)",
                role.arn
            ),
            RoleStep::PutPolicy {
                role,
                policy_name,
                kind,
                drifted: false,
                ..
            } => write!(
                f,
                "put the inline policy {policy_name} ({IAM_DIR}/{kind}-policy.json) on the role {}",
                role.arn
            ),
        }
    }
}

/// Reads each role and its inline policy; the steps that make them what `roles` says.
pub async fn plan(aws: &AwsClients, roles: &[DesiredRole]) -> anyhow::Result<Vec<RoleStep>> {
    let mut steps = Vec::new();
    for DesiredRole { role, documents } in roles {
        let kind = documents.kind;
        let put_policy = |drifted| RoleStep::PutPolicy {
            role: role.clone(),
            policy_name: documents.inline_policy_name(),
            policy: documents.policy.clone(),
            kind,
            drifted,
        };
        let live = match aws.iam.get_role().role_name(&role.name).send().await {
            Ok(output) => output.role,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                steps.push(RoleStep::Create {
                    role: role.clone(),
                    trust: documents.trust.clone(),
                    kind,
                });
                steps.push(put_policy(false));
                continue;
            }
            Err(err) => return Err(aws.fail(&err, "GetRole")),
        };
        let Some(live) = live else {
            anyhow::bail!("GetRole answered without the role {}", role.arn);
        };
        if live.path() != role.path {
            anyhow::bail!(
                "a role named {} exists with the path {}, so its ARN is {}, not {}: fix the role ARN in deploy.toml",
                role.name,
                live.path(),
                live.arn(),
                role.arn
            );
        }
        let trust_is_ours = live
            .assume_role_policy_document()
            .is_some_and(|trust| same_document(trust, &documents.trust));
        if !trust_is_ours {
            steps.push(RoleStep::PutBackTrust {
                role: role.clone(),
                trust: documents.trust.clone(),
                kind,
            });
        }
        match aws
            .iam
            .get_role_policy()
            .role_name(&role.name)
            .policy_name(documents.inline_policy_name())
            .send()
            .await
        {
            Ok(output) if same_document(output.policy_document(), &documents.policy) => {}
            Ok(_) => steps.push(put_policy(true)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                steps.push(put_policy(false));
            }
            Err(err) => return Err(aws.fail(&err, "GetRolePolicy")),
        }
    }
    Ok(steps)
}

impl RoleStep {
    pub async fn apply(&self, aws: &AwsClients) -> anyhow::Result<()> {
        match self {
            RoleStep::Create { role, trust, kind } => {
                aws.iam
                    .create_role()
                    .role_name(&role.name)
                    .path(&role.path)
                    .assume_role_policy_document(trust)
                    .description(format!(
                        "cm-etl {kind}: created by `cm-etl bootstrap` from {IAM_DIR}/"
                    ))
                    .send()
                    .await
                    .map_err(|err| aws.fail(&err, "CreateRole"))?;
            }
            RoleStep::PutBackTrust { role, trust, .. } => {
                aws.iam
                    .update_assume_role_policy()
                    .role_name(&role.name)
                    .policy_document(trust)
                    .send()
                    .await
                    .map_err(|err| aws.fail(&err, "UpdateAssumeRolePolicy"))?;
            }
            RoleStep::PutPolicy {
                role,
                policy_name,
                policy,
                ..
            } => {
                aws.iam
                    .put_role_policy()
                    .role_name(&role.name)
                    .policy_name(policy_name)
                    .policy_document(policy)
                    .send()
                    .await
                    .map_err(|err| aws.fail(&err, "PutRolePolicy"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(arn: &str) -> anyhow::Result<RoleName> {
        RoleName::from_arn(&Arn::try_from(arn.to_owned()).unwrap(), "123456789012")
    }

    #[test]
    fn the_name_is_the_last_path_segment_and_the_path_the_rest() {
        let plain = role("arn:aws:iam::123456789012:role/cm-etl-phase2-lambda").unwrap();
        assert_eq!(
            (plain.path.as_str(), plain.name.as_str()),
            ("/", "cm-etl-phase2-lambda")
        );
        let nested = role("arn:aws:iam::123456789012:role/service/etl/cm-etl").unwrap();
        assert_eq!(
            (nested.path.as_str(), nested.name.as_str()),
            ("/service/etl/", "cm-etl")
        );
    }

    #[test]
    fn a_role_of_another_account_or_not_a_role_is_refused() {
        let err = role("arn:aws:iam::999999999999:role/x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is in account 999999999999"), "{err}");
        for arn in [
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            let err = role(arn).unwrap_err().to_string();
            assert!(err.contains("is not an IAM role ARN"), "{arn}: {err}");
        }
    }
}
