//! Which SLI provider answers which indicator of an SLO: each provider's `<provider>/sli.yaml`
//! (Keptn's resource layout: `dynatrace/sli.yaml`, `prometheus/sli.yaml`, …) names its own.

use std::collections::{BTreeMap, BTreeSet};

use keptn_spec::sli::SliConfig;

use crate::model::ResourceScope;
use crate::store::Store;

/// The file every provider reads its SLI queries from, under a folder named after it.
const SLI_FILE: &str = "sli.yaml";

/// The indicator names each provider's `sli.yaml` defines at the service, stage and project
/// level of `service` (merged), by provider name.
///
/// # Errors
/// A message naming the resource when the store cannot be read or a file is not valid YAML.
async fn sli_names(
    store: &dyn Store,
    service: &ResourceScope,
) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let project = ResourceScope::project(service.project.clone());
    let mut scopes = vec![project];
    if let Some(stage) = &service.stage {
        scopes.push(ResourceScope::stage(service.project.clone(), stage.clone()));
    }
    if service.service.is_some() {
        scopes.push(service.clone());
    }
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for scope in &scopes {
        let uris = store
            .resource_uris(scope)
            .await
            .map_err(|e| format!("cannot list the resources of {scope}: {e}"))?;
        for uri in uris {
            let Some(provider) = uri
                .strip_suffix(SLI_FILE)
                .and_then(|p| p.strip_suffix('/'))
                .filter(|p| !p.is_empty() && !p.contains('/'))
            else {
                continue;
            };
            let Some(src) = store
                .resource(scope, &uri)
                .await
                .map_err(|e| format!("cannot read {uri} of {scope}: {e}"))?
            else {
                continue;
            };
            let config = SliConfig::from_yaml_str(&src)
                .map_err(|e| format!("{uri} of {scope} is invalid: {e}"))?;
            names
                .entry(provider.to_owned())
                .or_default()
                .extend(config.indicators.into_keys());
        }
    }
    Ok(names)
}

/// `indicators` grouped by the provider that answers them, `default` first, then the others by
/// name, each with its indicators in the SLO's order. An indicator goes to `default` when
/// `default`'s `sli.yaml` names it or no provider's does (Keptn's single-provider behaviour,
/// default queries included), else to the first other provider, by name, whose `sli.yaml`
/// names it.
///
/// # Errors
/// As [`sli_names`].
pub(super) async fn assign(
    store: &dyn Store,
    service: &ResourceScope,
    default: &str,
    indicators: &[String],
) -> Result<Vec<(String, Vec<String>)>, String> {
    let names = sli_names(store, service).await?;
    Ok(group(&names, default, indicators))
}

fn group(
    names: &BTreeMap<String, BTreeSet<String>>,
    default: &str,
    indicators: &[String],
) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = vec![(default.to_owned(), Vec::new())];
    for sli in indicators {
        let names_it = |p: &str| names.get(p).is_some_and(|n| n.contains(sli));
        let provider = if names_it(default) {
            default
        } else {
            names
                .keys()
                .map(String::as_str)
                .find(|p| *p != default && names_it(p))
                .unwrap_or(default)
        };
        match groups.iter_mut().find(|(p, _)| p == provider) {
            Some((_, list)) => list.push(sli.clone()),
            None => groups.push((provider.to_owned(), vec![sli.clone()])),
        }
    }
    groups.retain(|(p, list)| !list.is_empty() || p == default);
    if groups.len() > 1 && groups[0].1.is_empty() {
        groups.remove(0);
    }
    let (first, mut rest) = (groups.remove(0), groups);
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = vec![first];
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(files: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        files
            .iter()
            .map(|(p, n)| ((*p).to_owned(), n.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    fn slis(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Indicators go to the provider whose file names them; the default keeps its own and the
    /// unnamed ones; without other files everything stays with the default.
    #[test]
    fn groups_by_sli_file() {
        let files = names(&[
            ("dynatrace", &["conversion_rate", "throughput"]),
            ("prometheus", &["response_time_p95"]),
            ("zabbix", &["conversion_rate"]),
        ]);
        let got = group(
            &files,
            "prometheus",
            &slis(&[
                "throughput",
                "response_time_p95",
                "error_rate",
                "conversion_rate",
            ]),
        );
        assert_eq!(
            got,
            [
                (
                    "prometheus".to_owned(),
                    slis(&["response_time_p95", "error_rate"])
                ),
                (
                    "dynatrace".to_owned(),
                    slis(&["throughput", "conversion_rate"])
                ),
            ]
        );
        let only = group(&BTreeMap::new(), "dynatrace", &slis(&["a", "b"]));
        assert_eq!(only, [("dynatrace".to_owned(), slis(&["a", "b"]))]);
        let none = group(&BTreeMap::new(), "dynatrace", &[]);
        assert_eq!(none, [("dynatrace".to_owned(), Vec::new())]);
        let all_elsewhere = group(&files, "local", &slis(&["response_time_p95"]));
        assert_eq!(
            all_elsewhere,
            [("prometheus".to_owned(), slis(&["response_time_p95"]))]
        );
    }
}
