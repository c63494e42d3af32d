//! What the atomic-swap cloud adapters (Render, Railway) share: one deployment serves at a time,
//! so traffic may only go to the version whose deployment serves; a deployment's version read
//! from its image tag or commit; and a deployment whose create call's outcome was unknown found
//! again by listing.

use std::collections::HashSet;
use std::time::Duration;

use loco_types::model::Timestamp;

use crate::{Instance, InstanceState, PlatformError, PlatformResult, TrafficWeight};

/// How far a provider's clock may be behind ours when deciding whether a listed deployment was
/// created by a call we made.
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(30);

/// The words one provider's traffic refusals use.
pub(crate) struct Terms {
    /// `Render`, `Railway`.
    pub(crate) provider: &'static str,
    /// What serves: `deploy`, `deployment`.
    pub(crate) unit: &'static str,
    /// How the serving one is said to be: `live`, `active`.
    pub(crate) serving: &'static str,
    /// When a new one serves: `is live`, `succeeds`.
    pub(crate) serves_when: &'static str,
    /// What stopping the serving one's instances does: `suspends the service`, `removes it`.
    pub(crate) stopping: &'static str,
}

/// The deployment serving now: its id and the version it runs, when known.
pub(crate) struct Serving {
    pub(crate) id: String,
    pub(crate) version: Option<String>,
}

/// The one version `split` gives traffic to (none when nobody gets any); a split sharing traffic
/// between versions is refused, naming `platform`.
pub(crate) fn single_share<'s>(
    platform: &str,
    terms: &Terms,
    split: &'s [TrafficWeight],
) -> PlatformResult<Option<&'s TrafficWeight>> {
    let shares: Vec<&TrafficWeight> = split.iter().filter(|w| w.percent > 0).collect();
    if shares.len() > 1 {
        return Err(PlatformError::new(format!(
            "platform '{platform}' cannot split traffic (traffic: atomic_swap): {} serves one {} at a time; refused \
             split {}",
            terms.provider,
            terms.unit,
            describe(split)
        )));
    }
    Ok(shares.first().copied())
}

/// Checks that traffic is where `share` wants it: with `serving` on the platform, only the
/// version it runs may have all of it; with nothing serving (on `service`), nobody may.
pub(crate) fn check_serving(
    terms: &Terms,
    share: Option<&TrafficWeight>,
    serving: Option<Serving>,
    service: &str,
) -> PlatformResult<()> {
    let Terms { provider, unit, serving: is, serves_when, stopping } = terms;
    match (share, serving) {
        (None, None) => Ok(()),
        (None, Some(live)) => Err(PlatformError::new(format!(
            "traffic: atomic_swap: {unit} {} ({}) still serves on {provider}; stopping its instances {stopping}",
            live.id,
            live.version.unwrap_or_else(|| "unknown version".to_owned())
        ))),
        (Some(share), None) => Err(PlatformError::new(format!(
            "traffic: atomic_swap: nothing serves on {provider} service {service}; version {} gets traffic when its \
             {unit} {serves_when}",
            share.version
        ))),
        (Some(share), Some(live)) => match live.version {
            Some(version) if version == share.version => Ok(()),
            version => Err(PlatformError::new(format!(
                "traffic: atomic_swap: {unit} {} of version {} is {is} on {provider}; version {} gets traffic only \
                 when its own {unit} {serves_when}",
                live.id,
                version.unwrap_or_else(|| "unknown".to_owned()),
                share.version
            ))),
        },
    }
}

fn describe(split: &[TrafficWeight]) -> String {
    split.iter().map(|w| format!("{}={}%", w.version, w.percent)).collect::<Vec<_>>().join(", ")
}

/// The version a deployment runs when nothing is remembered about it: its image's tag or
/// digest, else its commit.
pub(crate) fn source_version(image: Option<&str>, commit: Option<&str>) -> Option<String> {
    image.map(|i| image_tag(i).to_owned()).filter(|t| !t.is_empty()).or_else(|| commit.map(str::to_owned))
}

/// The tag or digest of an image reference (`ghcr.io/acme/shop:v2` → `v2`).
fn image_tag(reference: &str) -> &str {
    if let Some((_, digest)) = reference.split_once('@') {
        return digest;
    }
    match reference.rfind(':') {
        Some(colon) if colon > reference.rfind('/').unwrap_or(0) => &reference[colon + 1..],
        _ => "",
    }
}

/// The instances `ids` of `version`, all served by deployment `platform_id`.
pub(crate) fn instances(ids: &[String], version: &str, platform_id: &str) -> Vec<Instance> {
    ids.iter()
        .map(|id| Instance {
            id: id.clone(),
            version: version.to_owned(),
            address: None,
            pid: None,
            state: InstanceState::Running,
            platform_id: Some(platform_id.to_owned()),
        })
        .collect()
}

/// A deployment as a provider lists it.
pub(crate) trait Listed {
    /// Its id.
    fn id(&self) -> &str;
    /// When it was created (RFC 3339), if the provider says.
    fn created_at(&self) -> Option<&str>;
}

/// The first of `recent` created since `started` (less [`CLOCK_SKEW`]) that `matches` and is not
/// in `claimed`; it is claimed, so no other call takes it for its own.
pub(crate) fn claim_created<T: Listed>(
    recent: Vec<T>,
    started: Timestamp,
    claimed: &mut HashSet<String>,
    matches: impl Fn(&T) -> bool,
) -> Option<T> {
    let found = recent.into_iter().find(|d| {
        let fresh =
            d.created_at().and_then(|t| Timestamp::parse(t).ok()).is_some_and(|t| t.after(CLOCK_SKEW) >= started);
        fresh && matches(d) && !claimed.contains(d.id())
    });
    if let Some(d) = &found {
        claimed.insert(d.id().to_owned());
    }
    found
}
