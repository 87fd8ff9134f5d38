//! Deploying with the Kubernetes deployer: the direct and blue/green rollouts, the result
//! `deploy` answers, and what a deployment left
//! ([`Deployer::deployed`](crate::Deployer::deployed)), built in one place.

use super::manifest::{self, Role};
use super::rollout::{RolloutState, rollout_state};
use super::{KubeDeployer, TrafficRouting, clean_copy, deployment_image, deployment_role};
use crate::{DeploymentRequest, DeploymentResult, DeploymentStrategy, Result};

impl KubeDeployer {
    pub(super) async fn deploy_direct(
        &self,
        request: &DeploymentRequest,
        replicas: Option<u32>,
    ) -> Result<DeploymentResult> {
        let target = &request.target;
        let template = self.template(&target.service);
        let name = target.service.as_str();
        let api = self.deployments(target);
        let previous = self.existing_own(target, Role::Direct).await?;
        let d = manifest::deployment(
            target,
            &request.artifact,
            Role::Direct,
            request.strategy,
            template,
            replicas,
        );
        self.apply(&api, "Deployment", name, &d).await?;
        for s in manifest::services(target, request.strategy, Role::Direct, template) {
            let n = s.metadata.name.clone().unwrap_or_default();
            self.apply(&self.services_api(target), "Service", &n, &s)
                .await?;
        }
        if let Err(failure) = self.wait_rollout(target, name).await {
            let rolled_back = match previous {
                Some(prev) => {
                    let restored = clean_copy(&prev);
                    self.apply(&api, "Deployment", name, &restored).await?;
                    tracing::warn!(
                        deployment = name,
                        "direct rollout failed; previous spec re-applied"
                    );
                    true
                }
                None => {
                    self.scale_deployment(target, name, 0).await?;
                    true
                }
            };
            return Err(self.rollout_error(target, name, failure, rolled_back));
        }
        // the old pods are gone from the Deployment, not yet from every node's rules
        self.drain_switch(target, Role::Direct).await;
        Ok(self.result_for(request))
    }

    pub(super) async fn deploy_blue_green(
        &self,
        request: &DeploymentRequest,
        replicas: Option<u32>,
    ) -> Result<DeploymentResult> {
        let target = &request.target;
        let template = self.template(&target.service);
        let canary_name = Role::Canary.deployment_name(&target.service);
        let primary_name = Role::Primary.deployment_name(&target.service);
        let api = self.deployments(target);
        self.existing_own(target, Role::Canary).await?;
        let first = self
            .get_opt(&api, "Deployment", &primary_name)
            .await?
            .is_none();
        let canary = manifest::deployment(
            target,
            &request.artifact,
            Role::Canary,
            request.strategy,
            template,
            replicas,
        );
        self.apply(&api, "Deployment", &canary_name, &canary)
            .await?;
        if first {
            let primary = manifest::deployment(
                target,
                &request.artifact,
                Role::Primary,
                request.strategy,
                template,
                replicas,
            );
            self.apply(&api, "Deployment", &primary_name, &primary)
                .await?;
        }
        for s in manifest::services(target, request.strategy, Role::Primary, template) {
            let n = s.metadata.name.clone().unwrap_or_default();
            self.apply(&self.services_api(target), "Service", &n, &s)
                .await?;
        }
        if self.routing == TrafficRouting::IstioVirtualService {
            self.switch_traffic(target, Role::Primary).await?;
        }
        let mut waits = vec![canary_name.clone()];
        if first {
            waits.push(primary_name.clone());
        }
        for name in &waits {
            if let Err(failure) = self.wait_rollout(target, name).await {
                self.scale_deployment(target, &canary_name, 0).await?;
                if first {
                    self.scale_deployment(target, &primary_name, 0).await?;
                }
                tracing::warn!(deployment = %name, "blue/green rollout failed; canary discarded");
                return Err(self.rollout_error(target, name, failure, true));
            }
        }
        Ok(self.result_for(request))
    }

    /// What [`deploy`](crate::Deployer::deploy) answers once `request` has run: the canary's
    /// Service for blue/green, the service itself otherwise.
    pub(super) fn result_for(&self, request: &DeploymentRequest) -> DeploymentResult {
        let target = &request.target;
        let (label, local_name) = match request.strategy {
            DeploymentStrategy::UserManaged => {
                return DeploymentResult::new(
                    request.strategy,
                    vec!["user-managed".into()],
                    request.artifact.to_string(),
                );
            }
            DeploymentStrategy::BlueGreenService => {
                ("canary", format!("{}-canary", target.service))
            }
            _ => ("direct", target.service.as_str().to_owned()),
        };
        let (local, public) = self.uris(target, &local_name);
        DeploymentResult::new(
            request.strategy,
            vec![label.into()],
            request.artifact.to_string(),
        )
        .with_uris_local(local)
        .with_uris_public(public)
    }

    /// `Some(result)` when the cluster holds what a successful `deploy` of `request` leaves: the
    /// Deployment of the new version in its role, with that image, scaled up and completely
    /// rolled out (for a first blue/green deployment the primary too), and every Service the
    /// deployment applies. Anything less is `None`: the caller deploys again.
    pub(super) async fn left_by(
        &self,
        request: &DeploymentRequest,
    ) -> Result<Option<DeploymentResult>> {
        let target = &request.target;
        let role = match request.strategy {
            // deploy touches nothing for a user-managed service
            DeploymentStrategy::UserManaged => return Ok(Some(self.result_for(request))),
            DeploymentStrategy::BlueGreenService => Role::Canary,
            _ => Role::Direct,
        };
        let api = self.deployments(target);
        let Some(new) = self
            .get_opt(&api, "Deployment", &role.deployment_name(&target.service))
            .await?
        else {
            return Ok(None);
        };
        let in_role = match role {
            Role::Direct => matches!(deployment_role(&new), Some(Role::Direct) | None),
            _ => deployment_role(&new) == Some(role),
        };
        let complete = |d: &k8s_openapi::api::apps::v1::Deployment| {
            super::replicas_of(d).0 > 0 && rollout_state(d) == RolloutState::Complete
        };
        if !in_role || deployment_image(&new) != request.artifact.to_string() || !complete(&new) {
            return Ok(None);
        }
        if role == Role::Canary {
            let primary = Role::Primary.deployment_name(&target.service);
            match self.get_opt(&api, "Deployment", &primary).await? {
                Some(p) if complete(&p) => {}
                _ => return Ok(None),
            }
        }
        let serving = if role == Role::Canary {
            Role::Primary
        } else {
            Role::Direct
        };
        let template = self.template(&target.service);
        for service in manifest::services(target, request.strategy, serving, template) {
            let name = service.metadata.name.unwrap_or_default();
            if self
                .get_opt(&self.services_api(target), "Service", &name)
                .await?
                .is_none()
            {
                return Ok(None);
            }
        }
        Ok(Some(self.result_for(request)))
    }
}
