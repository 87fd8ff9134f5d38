//! The feature-toggle action ([`FeatureToggleAction`]), its value parser ([`parse_toggles`]) and
//! the verifier that reads flags back ([`FlagStateVerifier`]).

use async_trait::async_trait;
use keptn_spec::remediation::{ActionSpec, ActionValue};

use super::{FlagState, UnleashClient};
use crate::action::{ActionContext, ActionOutcome, ActionStatus, Change, RemediationAction};
use crate::verify::{Verification, Verifier, VerifyError, VerifyRequest};

/// The flags a toggle value asks for, in order: `A:on`, `A:on,B:off` or `{A: on, B: off}`.
///
/// # Errors
/// A message saying which entry is malformed.
pub fn parse_toggles(
    value: Option<&ActionValue>,
) -> std::result::Result<Vec<(String, FlagState)>, String> {
    let entries: Vec<(String, String)> = match value {
        None => {
            return Err(
                "missing value: expected `FlagName:on|off` or a map `{FlagName: on|off}`"
                    .to_owned(),
            );
        }
        Some(ActionValue::Text(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                let mut pieces = part.splitn(3, ':');
                let name = pieces.next().unwrap_or_default();
                match pieces.next() {
                    Some(state) => Ok((name.trim().to_owned(), state.trim().to_owned())),
                    None => Err(format!(
                        "`{part}` has no `:`: expected `FlagName:on` or `FlagName:off`"
                    )),
                }
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(ActionValue::Map(entries)) => entries.clone(),
    };
    if entries.is_empty() {
        return Err("no flag given: expected `FlagName:on|off` or `{FlagName: on|off}`".to_owned());
    }
    entries
        .into_iter()
        .map(|(name, state)| {
            if name.is_empty() {
                return Err("empty flag name".to_owned());
            }
            let state = state
                .parse::<FlagState>()
                .map_err(|e| format!("flag `{name}`: {e}"))?;
            Ok((name, state))
        })
        .collect()
}

/// The feature-toggle action: `toggle-feature` (Keptn 0.7+, value `{Flag: on|off}`) and its
/// alias `featuretoggle` (Keptn 0.6, value `Flag:on|off`, several comma-separated); both names
/// accept both forms.
///
/// For each flag, in order: read its state, switch it, read it back; fail when the flag is
/// missing or did not change. Flags already in the wanted state are left alone. The undo step
/// switches changed flags back.
#[derive(Debug, Clone)]
pub struct FeatureToggleAction {
    client: UnleashClient,
}

impl FeatureToggleAction {
    /// A toggle action using `client`.
    pub fn new(client: UnleashClient) -> Self {
        Self { client }
    }
}

/// The action names the toggle action answers to.
pub const TOGGLE_ACTION_NAMES: [&str; 2] = ["toggle-feature", "featuretoggle"];

#[async_trait]
impl RemediationAction for FeatureToggleAction {
    fn name(&self) -> &str {
        TOGGLE_ACTION_NAMES[0]
    }

    fn aliases(&self) -> &[&str] {
        &TOGGLE_ACTION_NAMES[1..]
    }

    fn check(&self, value: Option<&ActionValue>) -> std::result::Result<(), String> {
        parse_toggles(value).map(|_| ())
    }

    fn describe(&self, ctx: &ActionContext) -> String {
        match parse_toggles(ctx.value()) {
            Ok(toggles) => format!(
                "set {} in Unleash",
                toggles
                    .iter()
                    .map(|(f, s)| format!("{} {s}", self.client.flag_target(f)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("not toggle anything: {e}"),
        }
    }

    async fn execute(&self, ctx: &ActionContext) -> ActionOutcome {
        let toggles = match parse_toggles(ctx.value()) {
            Ok(t) => t,
            Err(e) => return ActionOutcome::failed(e, Vec::new()),
        };
        let mut changes = Vec::new();
        let mut undo = Vec::new();
        let mut done = Vec::new();
        for (flag, wanted) in &toggles {
            let target = self.client.flag_target(flag);
            let before = match self.client.flag_state(flag).await {
                Ok(s) => s,
                Err(e) => return ActionOutcome::failed(e.to_string(), changes),
            };
            if before == *wanted {
                done.push(format!("{flag} was already {wanted}"));
                continue;
            }
            if let Err(e) = self.client.set_flag(flag, *wanted).await {
                return ActionOutcome::failed(e.to_string(), changes);
            }
            let after = match self.client.flag_state(flag).await {
                Ok(s) => s,
                Err(e) => {
                    return ActionOutcome::failed(
                        format!("flag `{flag}` was switched {wanted} but cannot be read back: {e}"),
                        changes,
                    );
                }
            };
            if after != *wanted {
                return ActionOutcome::failed(
                    format!("flag `{flag}` is still {after} after switching it {wanted}"),
                    changes,
                );
            }
            changes.push(Change::new(
                target,
                Some(before.to_string()),
                after.to_string(),
            ));
            undo.push((flag.clone(), before.to_string()));
            done.push(format!("{flag} {before} -> {after}"));
        }
        let mut outcome =
            ActionOutcome::succeeded(format!("Unleash flags: {}", done.join(", ")), changes);
        if !undo.is_empty() {
            outcome = outcome.with_undo(ActionSpec {
                name: "undo toggle-feature".to_owned(),
                action: TOGGLE_ACTION_NAMES[0].to_owned(),
                description: "switch the flags back".to_owned(),
                value: Some(ActionValue::Map(undo)),
            });
        }
        outcome
    }
}

/// Resolved when every flag the successful toggle steps set still has the wanted state, read
/// back from Unleash. A weak proof that the problem is gone (it says the remediation holds, not
/// that users are happy), used where no quality gate is at hand, as in the
/// `remediate_unleash_toggle` example.
#[derive(Debug, Clone)]
pub struct FlagStateVerifier {
    client: UnleashClient,
}

impl FlagStateVerifier {
    /// A verifier reading flags through `client`.
    pub fn new(client: UnleashClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Verifier for FlagStateVerifier {
    fn name(&self) -> &str {
        "unleash-flags"
    }

    async fn verify(
        &self,
        request: &VerifyRequest<'_>,
    ) -> std::result::Result<Verification, VerifyError> {
        let mut wanted: Vec<(String, FlagState)> = Vec::new();
        for step in request.steps {
            if step.outcome.status != ActionStatus::Succeeded
                || !TOGGLE_ACTION_NAMES.contains(&step.step.action.as_str())
            {
                continue;
            }
            if let Ok(toggles) = parse_toggles(step.step.value.as_ref()) {
                for (flag, state) in toggles {
                    wanted.retain(|(f, _)| *f != flag);
                    wanted.push((flag, state));
                }
            }
        }
        if wanted.is_empty() {
            return Err(VerifyError::new(
                self.name(),
                "no successful feature-toggle step to verify",
            ));
        }
        let mut seen = Vec::new();
        for (flag, state) in &wanted {
            let now = self
                .client
                .flag_state(flag)
                .await
                .map_err(|e| VerifyError::new("unleash-flags", e.to_string()))?;
            if now != *state {
                return Ok(Verification::Unresolved(format!(
                    "flag `{flag}` is {now}, the remediation set it {state}"
                )));
            }
            seen.push(format!("{flag}={now}"));
        }
        Ok(Verification::Resolved(format!(
            "flags read back from Unleash: {}",
            seen.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 0.6 text form, several comma-separated toggles and the map form all parse.
    #[test]
    fn toggle_values_parse_in_both_forms() {
        assert_eq!(
            parse_toggles(Some(&"EnablePromotion:off".into())).unwrap(),
            vec![("EnablePromotion".to_owned(), FlagState::Off)]
        );
        assert_eq!(
            parse_toggles(Some(&"EnableItemCache:on, EnablePromotion:OFF".into())).unwrap(),
            vec![
                ("EnableItemCache".to_owned(), FlagState::On),
                ("EnablePromotion".to_owned(), FlagState::Off)
            ]
        );
        let map = ActionValue::Map(vec![("EnablePromotion".into(), "off".into())]);
        assert_eq!(
            parse_toggles(Some(&map)).unwrap(),
            vec![("EnablePromotion".to_owned(), FlagState::Off)]
        );
    }

    /// Malformed toggle values are rejected with a reason naming the entry.
    #[test]
    fn malformed_toggle_values_are_rejected() {
        let cases: [(Option<ActionValue>, &str); 5] = [
            (None, "missing value"),
            (
                Some("EnablePromotion".into()),
                "`EnablePromotion` has no `:`",
            ),
            (
                Some("EnablePromotion:maybe".into()),
                "flag `EnablePromotion`: expected `on` or `off`, found `maybe`",
            ),
            (Some(":on".into()), "empty flag name"),
            (
                Some(ActionValue::Map(vec![("A".into(), "no".into())])),
                "flag `A`: expected `on` or `off`, found `no`",
            ),
        ];
        for (value, want) in cases {
            let err = parse_toggles(value.as_ref()).unwrap_err();
            assert!(err.contains(want), "{value:?}: {err}");
        }
    }
}
